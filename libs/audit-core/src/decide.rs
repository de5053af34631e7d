//! The common scoring stream's decisions confirmed without Python (ADR 0059, 2026-12-01 night): what
//! `audit_recompute.confirm_raws` confirms, the opening, the completion and the result read here, the sheets
//! opened by `sheets::open_marks`, the aggregation in half points (`_aggregated_halves`), the rating
//! (`aggregation.rate`) and the decision (`scoring.decide`) recomputed, and the completion and the result compared
//! with them type for type (`audit_plain.same`).
//!
//! It only ever confirms: `true` where `confirm_raws` answers 2, `false` for anything it does not read as surely
//! as Python (then `confirm_raws` and, after it, scoring's own replay read the stream, and name what is wrong).
//! A property test holds every `true` to `confirm_raws` (tools/tests/test_audit_decider.py).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList};
use sha2::{Digest, Sha256};
use unicode_normalization::is_nfc;

use crate::json::{self, Node};
use crate::sheets::{code, fields, is_integer, open_marks, readable, text, unb64, Fields};

/// `audit_recompute._INTEGRAL_LIMIT` and `_SMALL`: where the half points' integer arithmetic is the Decimal one.
const INTEGRAL_LIMIT: i128 = 1_000_000_000_000;
const SMALL: usize = 1_000_000;

/// A panel as `audit_recompute.Scorers` gives it: how many scoring members, those a sheet may name (as the plain
/// check reads a member), whether all of them make its quorum, its spread threshold and re-scoring rounds.
type PanelSpec = (usize, Vec<String>, bool, f64, i64);
/// A part: code, label, maximum, its criteria's places on the sheet.
type PartSpec = (String, String, f64, Vec<usize>);
/// A mandatory criterion: code, label, the stars it is required for, minimum, place, minimum as a fraction.
type MandatorySpec = (String, String, Option<i64>, f64, usize, i64, i64);
/// `audit_recompute._Layout` where the half points answer (else the sheet is absent: Python reads its streams):
/// criteria, parts, mandatory criteria, the outlier bound as a fraction, 10^decimals, half-even rounding.
type LayoutSpec = (Vec<String>, Vec<PartSpec>, Vec<MandatorySpec>, (i64, i64), i64, bool);
/// A level's rule: the stars it recognises and forwards, its next level, pass mark, whether a pass goes up.
type LevelSpec = (Vec<i64>, Vec<i64>, Option<String>, Option<f64>, bool);
/// A rulebook: id, version, certificate validity, its rounding described, its star bands (minimum, stars), its
/// levels' rules, its sheets' layouts by id (those known to exist but not read here: `None`).
type BookSpec = (String, i64, Option<i64>, String, Vec<(f64, i64)>, HashMap<String, LevelSpec>,
                 HashMap<String, Option<LayoutSpec>>);

/// `audit_plain.text`: a `Text` that validation leaves as it is (no whitespace or control character at either
/// end, which covers every character `str.strip` removes; NFC; `minimum..=maximum` characters).
fn text_ok(value: &str, maximum: usize, minimum: usize) -> bool {
    let count = value.chars().count();
    let edge = |c: Option<char>| c.is_some_and(|c| c.is_whitespace() || c.is_control());
    (minimum..=maximum).contains(&count)
        && (count == 0 || (!edge(value.chars().next()) && !edge(value.chars().next_back())))
        && (value.is_ascii() || is_nfc(value))
}

fn is_text(node: Option<&Node>) -> bool {
    text(node).is_some_and(|value| text_ok(value, 500, 1))
}

fn is_code(node: Option<&Node>) -> bool {
    text(node).is_some_and(code)
}

/// `[A-Za-z0-9./-]{3,40}`.
fn registration(value: &str) -> bool {
    (3..=40).contains(&value.len())
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'/' | b'-'))
}

fn is_null(node: Option<&Node>) -> bool {
    matches!(node, None | Some(Node::Null))
}

/// An integer literal's value (`None` for a float, another type, or beyond 64 bits).
fn integer(node: Option<&Node>) -> Option<i64> {
    match node {
        Some(Node::Number(literal)) if is_integer(node) => literal.parse().ok(),
        _ => None,
    }
}

/// A float literal (one Python reads as `float`) equal to `expected` bit for bit (`-0.0` is not `0.0`).
fn same_float(node: Option<&Node>, expected: f64) -> bool {
    match node {
        Some(Node::Number(literal)) if !is_integer(node) && literal.len() <= 32 => {
            literal.parse::<f64>().is_ok_and(|value| value.to_bits() == expected.to_bits())
        }
        _ => false,
    }
}

fn same_int(node: Option<&Node>, expected: i64) -> bool {
    integer(node) == Some(expected)
}

fn same_bool(node: Option<&Node>, expected: bool) -> bool {
    matches!((node, expected), (Some(Node::True), true) | (Some(Node::False), false))
}

fn same_str(node: Option<&Node>, expected: &str) -> bool {
    text(node) == Some(expected)
}

fn same_opt_int(node: Option<&Node>, expected: Option<i64>) -> bool {
    match expected {
        Some(value) => same_int(node, value),
        None => matches!(node, Some(Node::Null)),
    }
}

fn same_opt_str(node: Option<&Node>, expected: Option<&str>) -> bool {
    match expected {
        Some(value) => same_str(node, value),
        None => matches!(node, Some(Node::Null)),
    }
}

/// An object with exactly the names `names` (each once), or `None`.
fn exactly<'n, 'a>(node: Option<&'n Node<'a>>, names: &[&str]) -> Option<Fields<'n, 'a>> {
    let found = fields(node?)?;
    (found.len() == names.len() && names.iter().all(|name| found.has(name))).then_some(found)
}

fn same_strs(node: Option<&Node>, expected: &[&str]) -> bool {
    match node {
        Some(Node::Array(items)) => {
            items.len() == expected.len() && items.iter().zip(expected).all(|(item, want)| item.as_str() == Some(want))
        }
        _ => false,
    }
}

/// `YYYY-MM-DD`, a real day: what pydantic reads as a `date` and dumps unchanged.
fn iso_date(value: &str) -> bool {
    let b = value.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    let digits = |from: usize, to: usize| -> Option<u32> {
        let part = &b[from..to];
        part.iter().all(u8::is_ascii_digit).then(|| part.iter().fold(0, |n, d| n * 10 + (d - b'0') as u32))
    };
    let (Some(year), Some(month), Some(day)) = (digits(0, 4), digits(5, 7), digits(8, 10)) else { return false };
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    year >= 1 && (1..=12).contains(&month) && day >= 1 && day <= days[month as usize - 1]
}

/// `AuthorityId`'s pattern.
fn authority_id(value: &str) -> bool {
    if value == "national" {
        return true;
    }
    let Some((kind, area)) = value.split_once(':') else { return false };
    matches!(kind, "region" | "province" | "district" | "commune" | "district-of-province" | "commune-of-province")
        && code(area)
}

/// A `DecisionReference` that its model reads and dumps unchanged: exactly its five fields.
fn decision_reads_unchanged(node: Option<&Node>) -> bool {
    let Some(decision) = exactly(node, &["number", "date", "signer", "authority", "authority_id"]) else {
        return false;
    };
    let authority = match decision.get("authority_id") {
        Some(Node::Null) => true,
        other => text(other).is_some_and(authority_id),
    };
    is_text(decision.get("number")) && text(decision.get("date")).is_some_and(iso_date)
        && is_text(decision.get("signer")) && is_text(decision.get("authority")) && authority
}

/// `audit_plain.opened`, where a name or registration number is not a sealed copy (those: Python's).
fn opened_reads_unchanged(data: &Fields) -> bool {
    const REQUIRED: [&str; 11] = ["dossier_id", "round_id", "programme", "level", "rulebook_id", "rulebook_version",
                                  "sheet_id", "product_group", "product_name", "producer_name", "sample_code"];
    const OPTIONAL: [&str; 3] = ["producer_address", "province_code", "producer_registration_number"];
    if !REQUIRED.iter().all(|name| data.has(name))
        || !data.0.iter().all(|(name, _)| REQUIRED.contains(name) || OPTIONAL.contains(name))
    {
        return false;
    }
    let address = data.get("producer_address");
    let province = data.get("province_code");
    let registration_ok = match data.get("producer_registration_number") {
        None | Some(Node::Null) => true,
        other => text(other).is_some_and(registration),
    };
    text(data.get("dossier_id")).is_some() && text(data.get("round_id")).is_some()
        && matches!(text(data.get("programme")), Some("OCOP" | "CNNTTB"))
        && matches!(text(data.get("level")), Some("commune" | "district" | "province" | "region" | "national"))
        && is_code(data.get("rulebook_id")) && integer(data.get("rulebook_version")).is_some()
        && is_code(data.get("sheet_id")) && is_text(data.get("product_group")) && is_text(data.get("product_name"))
        && is_text(data.get("producer_name")) && is_code(data.get("sample_code"))
        && (is_null(address) || is_text(address)) && (is_null(province) || is_code(province)) && registration_ok
}

/// `_Layout.round_halves`: halves / 2n rounded to the layout's decimals, as a float.
fn round_halves(halves: i128, n: i128, scale: i128, half_even: bool) -> f64 {
    let (mut quotient, rest) = ((halves.abs() * scale) / (2 * n), (halves.abs() * scale) % (2 * n));
    if 2 * rest > 2 * n || (2 * rest == 2 * n && (!half_even || quotient & 1 == 1)) {
        quotient += 1;
    }
    let value = quotient as f64 / scale as f64;
    if halves < 0 { -value } else { value }
}

/// Python's `f"{points:.2f}".replace(".", ",")`, or `None` at a tie (where formatting rules might differ).
fn points_vn(points: f64) -> Option<String> {
    let eighths = points * 8.0;
    if eighths.fract() == 0.0 && (eighths as i64) & 1 == 1 {
        return None; // exactly halfway between two hundredths: Python rounds it to even, leave it to Python
    }
    Some(format!("{points:.2}").replace('.', ","))
}

fn level_vn(level: &str) -> &str {
    match level {
        "commune" => "xã",
        "district" => "huyện",
        "province" => "tỉnh",
        "region" => "khu vực",
        "national" => "quốc gia",
        other => other,
    }
}

const NEXT_STEP: &str = "Hoàn thiện sản phẩm và hồ sơ, đăng ký tham gia đợt đánh giá sau.";

/// What `aggregation.rate` gives: band, stars, passed, label, recognised, goes up.
struct Rating {
    band: Option<i64>,
    stars: Option<i64>,
    passed: Option<bool>,
    label: String,
    recognised: bool,
    goes_up: bool,
}

/// `aggregation.rate` (`None` where it raises: no band reached, or no pass mark).
fn rate(book: &BookSpec, rule: &LevelSpec, average: f64, mandatory: &[(Option<i64>, bool)]) -> Option<Rating> {
    let (recognises, forwards, next_level, pass_mark, forwards_passed) = rule;
    if !book.4.is_empty() {
        let band = book.4.iter().filter(|(minimum, _)| average >= *minimum).map(|(_, stars)| *stars).max()?;
        let mut stars = band;
        while stars > 1 && !mandatory.iter().all(|(required, met)| *met || !required.is_some_and(|r| r <= stars)) {
            stars -= 1;
        }
        return Some(Rating { band: Some(band), stars: Some(stars), passed: None, label: format!("{stars} sao"),
                             recognised: recognises.contains(&stars),
                             goes_up: forwards.contains(&stars) && next_level.is_some() });
    }
    let passed = average >= (*pass_mark)? && mandatory.iter().all(|(_, met)| *met);
    Some(Rating { band: None, stars: None, passed: Some(passed),
                  label: (if passed { "Đạt" } else { "Không đạt" }).to_owned(), recognised: passed,
                  goes_up: passed && *forwards_passed && next_level.is_some() })
}

/// base64url without padding, as `sealing.b64` writes a key.
fn b64(raw: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(raw.len().div_ceil(3) * 4);
    for chunk in raw.chunks(3) {
        let word = (chunk[0] as u32) << 16 | (*chunk.get(1).unwrap_or(&0) as u32) << 8 | *chunk.get(2).unwrap_or(&0) as u32;
        for k in 0..=chunk.len() {
            out.push(ALPHABET[(word >> (18 - 6 * k) & 63) as usize] as char);
        }
    }
    out
}

/// The rulebooks and panels the decisions are confirmed with (built by `audit_recompute.compiled_decider`).
#[pyclass(module = "binhchon_audit_core")]
pub struct Decider {
    pub(crate) core: Arc<DeciderCore>,
}

pub(crate) struct DeciderCore {
    panels: HashMap<String, PanelSpec>,
    books: HashMap<(String, i64), BookSpec>,
    digest_prefix: Vec<u8>,
}

struct Opening<'n, 'a> {
    data: Fields<'n, 'a>,
    dossier_id: &'n str,
    round_id: &'n str,
    level: &'n str,
}

impl DeciderCore {
    fn confirm(&self, raws: &[&[u8]]) -> bool {
        self.confirmed(raws).unwrap_or(false)
    }

    fn event<'a>(raw: &'a [u8]) -> Option<Node<'a>> {
        json::parse(raw).ok()
    }

    fn confirmed(&self, raws: &[&[u8]]) -> Option<bool> {
        if raws.len() < 4 {
            return None;
        }
        let (first, completion, result) =
            (Self::event(raws[0])?, Self::event(raws[raws.len() - 2])?, Self::event(raws[raws.len() - 1])?);
        let (first, completion, result) = (fields(&first)?, fields(&completion)?, fields(&result)?);
        if !readable(&first) || !readable(&completion) || !readable(&result)
            || text(first.get("type"))? != "scoring.opened" || text(completion.get("type"))? != "scoring.completed"
        {
            return None;
        }
        let result_type = text(result.get("type"))?;
        if result_type != "result.approved" && result_type != "result.not_recognised" {
            return None;
        }
        let data = fields(first.get("data")?)?;
        if !opened_reads_unchanged(&data) {
            return None;
        }
        let opening = Opening { dossier_id: text(data.get("dossier_id"))?, round_id: text(data.get("round_id"))?,
                                level: text(data.get("level"))?, data };
        let panel = self.panels.get(opening.round_id)?;
        let done = fields(completion.get("data")?)?;
        let book_id = text(done.get("rulebook_id"))?;
        let version = integer(done.get("rulebook_version"))?;
        let book = self.books.get(&(book_id.to_owned(), version))?;
        if text(opening.data.get("rulebook_id"))? != book.0.as_str()
            || integer(opening.data.get("rulebook_version"))? != book.1
        {
            return None;
        }
        let revealed = text(done.get("sealing_key"))?;
        let layout = book.6.get(text(opening.data.get("sheet_id"))?)?.as_ref()?;
        // the key as `DossierKey.from_revealed` reads it, and as `revealed()` writes it back (else the completion
        // compared below would differ: Python answers for a key written otherwise)
        let key = unb64(revealed)?;
        if key.len() != 32 || b64(&key) != revealed {
            return None;
        }
        let digest = Sha256::new().chain_update(&self.digest_prefix).chain_update(&key).finalize();
        let digest = crate::hex(&digest);
        let (members, totals, columns, magnitude) =
            open_marks(&raws[1..raws.len() - 2], opening.dossier_id, &key, &digest, &panel.1, &layout.0)?;
        // every eligible member scored (the members opened are readable eligible ones, each once)
        if members.len() != panel.0 || !panel.2 {
            return None;
        }
        let (_, parts, mandatory, (outlier_num, outlier_den), scale, half_even) = layout;
        let n = members.len();
        if n >= SMALL || (magnitude as i128) * (*scale as i128) >= INTEGRAL_LIMIT {
            return None;
        }
        let (n128, scale128) = (n as i128, *scale as i128);
        let halves: i128 = totals.iter().map(|&t| t as i128).sum();
        let average = round_halves(halves, n128, scale128, *half_even);
        let part_averages: Vec<f64> = parts.iter()
            .map(|(_, _, _, places)| {
                round_halves(places.iter().map(|&p| columns[p] as i128).sum(), n128, scale128, *half_even)
            })
            .collect();
        let mandatory_outcomes: Vec<(f64, bool)> = mandatory.iter()
            .map(|(_, _, _, _, place, numerator, denominator)| {
                let twice = columns[*place] as i128;
                (round_halves(twice, n128, scale128, *half_even),
                 twice * (*denominator as i128) >= 2 * n128 * (*numerator as i128))
            })
            .collect();
        let outliers: Vec<&str> = members.iter().zip(&totals)
            .filter(|(_, &t)| {
                let t = t as i128;
                n > 1 && (t * (n128 - 1) - (halves - t)).abs() * (*outlier_den as i128)
                    > 2 * (n128 - 1) * (*outlier_num as i128)
            })
            .map(|(member, _)| member.as_str())
            .collect();
        let rule = book.5.get(opening.level)?;
        if book.4.is_empty() && rule.3.is_none() {
            return None;
        }
        let rating_input: Vec<(Option<i64>, bool)> =
            mandatory.iter().zip(&mandatory_outcomes).map(|(m, (_, met))| (m.2, *met)).collect();
        let rating = rate(book, rule, average, &rating_input)?;
        let member_totals: Vec<f64> = totals.iter().map(|&t| t as f64 / 2.0).collect();
        let highest = member_totals.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let lowest = member_totals.iter().cloned().fold(f64::INFINITY, f64::min);
        let spread = highest - lowest;
        if spread > panel.3 && 1 <= panel.4 {
            return None;
        }
        // the completion, as `_confirm_opened`'s expected dict
        const COMPLETED: [&str; 20] = ["dossier_id", "round_id", "rulebook_id", "rulebook_version", "scoring_round",
                                       "average_total", "rounding", "part_averages", "totals", "outliers",
                                       "band_stars", "stars", "passed", "rating_label", "mandatory",
                                       "recognised_at_level", "goes_up_a_level", "spread", "spread_exceeded",
                                       "sealing_key"];
        if done.len() != COMPLETED.len() || !COMPLETED.iter().all(|name| done.has(name)) {
            return None;
        }
        let passed_same = match rating.passed {
            Some(passed) => same_bool(done.get("passed"), passed),
            None => matches!(done.get("passed"), Some(Node::Null)),
        };
        let same_parts = match done.get("part_averages") {
            Some(Node::Array(items)) if items.len() == parts.len() => {
                items.iter().zip(parts).zip(&part_averages).all(|((item, part), average)| {
                    exactly(Some(item), &["code", "label", "average", "maximum"]).is_some_and(|item| {
                        same_str(item.get("code"), &part.0) && same_str(item.get("label"), &part.1)
                            && same_float(item.get("average"), *average) && same_float(item.get("maximum"), part.2)
                    })
                })
            }
            _ => false,
        };
        let same_mandatory = match done.get("mandatory") {
            Some(Node::Array(items)) if items.len() == mandatory.len() => {
                items.iter().zip(mandatory).zip(&mandatory_outcomes).all(|((item, m), (average, met))| {
                    exactly(Some(item), &["code", "label", "required_for_stars", "average", "minimum", "met"])
                        .is_some_and(|item| {
                            same_str(item.get("code"), &m.0) && same_str(item.get("label"), &m.1)
                                && same_opt_int(item.get("required_for_stars"), m.2)
                                && same_float(item.get("average"), *average) && same_float(item.get("minimum"), m.3)
                                && same_bool(item.get("met"), *met)
                        })
                })
            }
            _ => false,
        };
        let same_totals = fields(done.get("totals")?).is_some_and(|found| {
            found.len() == n
                && members.iter().zip(&member_totals).all(|(member, total)| same_float(found.get(member), *total))
        });
        if !(same_str(done.get("dossier_id"), opening.dossier_id) && same_str(done.get("round_id"), opening.round_id)
            && same_str(done.get("rulebook_id"), &book.0) && same_int(done.get("rulebook_version"), book.1)
            && same_int(done.get("scoring_round"), 1) && same_float(done.get("average_total"), average)
            && same_str(done.get("rounding"), &book.3) && same_parts && same_totals
            && same_strs(done.get("outliers"), &outliers) && same_opt_int(done.get("band_stars"), rating.band)
            && same_opt_int(done.get("stars"), rating.stars) && passed_same
            && same_str(done.get("rating_label"), &rating.label) && same_mandatory
            && same_bool(done.get("recognised_at_level"), rating.recognised)
            && same_bool(done.get("goes_up_a_level"), rating.goes_up) && same_float(done.get("spread"), spread)
            && same_bool(done.get("spread_exceeded"), spread > panel.3))
        {
            return None;
        }
        // the decision, as `scoring.decide` makes it
        let decided = fields(result.get("data")?)?;
        if !decision_reads_unchanged(decided.get("decision")) {
            return None;
        }
        let opened = &opening.data;
        let common = same_str(decided.get("dossier_id"), opening.dossier_id)
            && same_str(decided.get("round_id"), opening.round_id)
            && same_str(decided.get("programme"), text(opened.get("programme"))?)
            && same_str(decided.get("level"), opening.level)
            && same_str(decided.get("product_name"), text(opened.get("product_name"))?)
            && same_str(decided.get("producer_name"), text(opened.get("producer_name"))?)
            && same_opt_str(decided.get("producer_registration_number"),
                            text(opened.get("producer_registration_number")));
        if !common {
            return None;
        }
        if rating.recognised || rating.goes_up {
            const APPROVED: [&str; 16] = ["dossier_id", "round_id", "programme", "level", "rulebook_id", "rating",
                                          "points", "decision", "goes_up_a_level", "next_level", "product_name",
                                          "producer_name", "producer_address", "province_code",
                                          "certificate_validity_months", "producer_registration_number"];
            if result_type != "result.approved" || !(0.0..=100.0).contains(&average)
                || rating.stars.is_some_and(|stars| !(1..=5).contains(&stars))
            {
                return None;
            }
            let rated = exactly(decided.get("rating"), &["stars", "recognised", "label"])?;
            let next_level = if rating.goes_up { rule.2.as_deref() } else { None };
            let approved = decided.len() == APPROVED.len() && APPROVED.iter().all(|name| decided.has(name))
                && same_str(decided.get("rulebook_id"), text(opened.get("rulebook_id"))?)
                && same_opt_int(rated.get("stars"), rating.stars) && same_bool(rated.get("recognised"), rating.recognised)
                && same_str(rated.get("label"), &rating.label) && same_float(decided.get("points"), average)
                && same_bool(decided.get("goes_up_a_level"), rating.goes_up)
                && same_opt_str(decided.get("next_level"), next_level)
                && same_opt_str(decided.get("producer_address"), text(opened.get("producer_address")))
                && same_opt_str(decided.get("province_code"), text(opened.get("province_code")))
                && same_opt_int(decided.get("certificate_validity_months"), book.2);
            return approved.then_some(true);
        }
        const NOT_RECOGNISED: [&str; 14] = ["dossier_id", "round_id", "programme", "level", "points", "rating_label",
                                            "reason", "next_step", "decision", "product_name", "producer_name",
                                            "producer_registration_number", "reason_code", "reason_params"];
        if result_type != "result.not_recognised" || decided.len() != NOT_RECOGNISED.len()
            || !NOT_RECOGNISED.iter().all(|name| decided.has(name))
        {
            return None;
        }
        let unmet: Vec<&str> = mandatory.iter().zip(&mandatory_outcomes)
            .filter(|(m, (_, met))| !met && (rating.band.is_none() || m.2.is_none_or(|r| Some(r) <= rating.band)))
            .map(|(m, _)| m.1.as_str())
            .collect();
        let mut reason = format!("{} ({} điểm) chưa đạt mức được công nhận ở cấp {}", rating.label,
                                 points_vn(average)?, level_vn(opening.level));
        if !unmet.is_empty() {
            reason.push_str("; chưa đáp ứng tiêu chí bắt buộc: ");
            reason.push_str(&unmet.join(", "));
        }
        if !text_ok(&reason, 500, 1) {
            return None;
        }
        let params_names: &[&str] = if unmet.is_empty() {
            &["points", "rating_label", "level"]
        } else {
            &["points", "rating_label", "level", "unmet_mandatory"]
        };
        let params = exactly(decided.get("reason_params"), params_names)?;
        let not_recognised = same_float(decided.get("points"), average)
            && same_str(decided.get("rating_label"), &rating.label) && same_str(decided.get("reason"), &reason)
            && same_str(decided.get("next_step"), NEXT_STEP)
            && same_str(decided.get("reason_code"), if unmet.is_empty() { "below_level" } else { "mandatory_unmet" })
            && same_float(params.get("points"), average) && same_str(params.get("rating_label"), &rating.label)
            && same_str(params.get("level"), opening.level)
            && (unmet.is_empty() || same_strs(params.get("unmet_mandatory"), &unmet));
        not_recognised.then_some(true)
    }
}

#[pymethods]
impl Decider {
    #[new]
    fn new(panels: HashMap<String, PanelSpec>, books: Vec<BookSpec>, digest_prefix: Vec<u8>) -> Self {
        let books = books.into_iter().map(|book| ((book.0.clone(), book.1), book)).collect();
        Decider { core: Arc::new(DeciderCore { panels, books, digest_prefix }) }
    }

    /// Each stream (its raw records in order) confirmed or not: `True` only where `confirm_raws` answers 2.
    fn confirm_streams<'py>(&self, py: Python<'py>, streams: Vec<Vec<Bound<'py, PyBytes>>>) -> Vec<bool> {
        let raws: Vec<Vec<&[u8]>> =
            streams.iter().map(|stream| stream.iter().map(|raw| raw.as_bytes()).collect()).collect();
        py.detach(|| raws.iter().map(|stream| self.core.confirm(stream)).collect())
    }
}

/// A stream holding a decision, as `Chains.confirm_decisions` hands it to the decider: its name, its kept
/// records' values in version order, whether `read_json` read each of them exact.
pub(crate) struct Decided {
    pub(crate) name: String,
    pub(crate) raws: Vec<Arc<Vec<u8>>>,
    pub(crate) exact: bool,
}

/// The decider at work on threads of its own (`Chains.confirm_decisions`), until `wait`.
#[pyclass(module = "binhchon_audit_core")]
pub struct Confirming {
    work: Arc<Vec<Decided>>,
    threads: Mutex<Vec<JoinHandle<Vec<bool>>>>,
}

impl Confirming {
    pub(crate) fn start(core: Arc<DeciderCore>, work: Vec<Decided>, threads: usize) -> Self {
        let work = Arc::new(work);
        let share = work.len().div_ceil(threads).max(1);
        let handles = (0..work.len()).step_by(share)
            .map(|first| {
                let (core, work) = (Arc::clone(&core), Arc::clone(&work));
                std::thread::Builder::new()
                    .name("audit-decider".to_owned())
                    .spawn(move || {
                        work[first..(first + share).min(work.len())].iter()
                            .map(|stream| {
                                let raws: Vec<&[u8]> = stream.raws.iter().map(|raw| raw.as_slice()).collect();
                                core.confirm(&raws)
                            })
                            .collect()
                    })
                    .expect("a thread for the decider")
            })
            .collect();
        Confirming { work, threads: Mutex::new(handles) }
    }
}

#[pymethods]
impl Confirming {
    /// Once the decider is done: how many streams it confirmed, and those it left (name, the kept records'
    /// values in version order, whether all were read exact), for Python to check, in the streams' order.
    fn wait<'py>(&self, py: Python<'py>) -> PyResult<(usize, Bound<'py, PyList>)> {
        let handles: Vec<JoinHandle<Vec<bool>>> = match self.threads.lock() {
            Ok(mut held) => std::mem::take(&mut *held),
            Err(_) => Vec::new(),
        };
        let joined: Vec<std::thread::Result<Vec<bool>>> =
            py.detach(|| handles.into_iter().map(|handle| handle.join()).collect());
        let mut answers = Vec::with_capacity(self.work.len());
        for answer in joined {
            answers.extend(answer.map_err(|_| pyo3::exceptions::PyRuntimeError::new_err("the decider failed"))?);
        }
        if answers.len() != self.work.len() {
            return Err(pyo3::exceptions::PyRuntimeError::new_err("the decider was waited for twice"));
        }
        let left = PyList::empty(py);
        for (stream, confirmed) in self.work.iter().zip(&answers) {
            if !confirmed {
                let raws = PyList::new(py, stream.raws.iter().map(|raw| PyBytes::new(py, raw)))?;
                left.append((&stream.name, raws, stream.exact))?;
            }
        }
        Ok((answers.iter().filter(|&&confirmed| confirmed).count(), left))
    }
}
