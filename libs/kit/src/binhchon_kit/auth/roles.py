from enum import StrEnum


class Role(StrEnum):
    """The people in the seeds, as roles a token carries."""

    APPLICANT = "applicant"  # the producer (chủ thể) or someone filing for it
    SECRETARIAT = "secretariat"  # tổ giúp việc / tổ thư ký: receives and checks dossiers
    JUDGE = "judge"  # council or jury member
    COUNCIL_CHAIR = "council_chair"
    APPROVER = "approver"  # the competent authority (UBND) that signs the decision
    CERTIFIER = "certifier"
    AUDITOR = "auditor"
    AGENCY = "agency"  # another agency's system: registers and manages its own webhooks (notify)
    SERVICE = "service"  # one of our services calling another with its own token (a data subject's key, ADR 0035)
    ADMIN = "admin"
