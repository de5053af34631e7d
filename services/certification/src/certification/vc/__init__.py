"""Certificates as W3C Verifiable Credentials 2.0 in the Open Badges 3.0 shape, with Data Integrity proofs
(``eddsa-rdfc-2022``), the issuer's did:web document and a Bitstring Status List for revocation (ADR 0032).

The signed JSON of ADR 0005 (Ed25519 over RFC 8785) stays the certificate's record; a credential is another
rendering of the same recorded certificate, made on request and the same on every request."""
