//! Strict JSON (RFC 8259) read without copying: strings without escapes and numbers stay slices of the record.
//! Anything `orjson` might read otherwise than `json.loads`, or refuse, is an error here (the Python path then
//! reads the record): NaN and infinities, lone surrogates, control characters in strings, invalid UTF-8, nesting
//! deeper than `MAX_DEPTH`, a float that overflows.

use std::sync::atomic::{AtomicUsize, Ordering};

pub const MAX_DEPTH: usize = 128;

/// Python's limit on the digits of an integer read from text (`sys.get_int_max_str_digits()`, 4,300 unless set
/// otherwise; 0: none), set by the package when it is imported (`set_int_max_str_digits`): an integer literal
/// with more digits is refused here as `json.loads` refuses it (found by review: the decider confirmed a stream
/// whose opening carried one, which the Python path cannot read at all).
pub static INT_MAX_STR_DIGITS: AtomicUsize = AtomicUsize::new(4300);

pub struct Malformed;

/// A JSON string: the bytes between its quotes when they hold no escape (then they are already what RFC 8785
/// writes: no `"`, `\` or control character, valid UTF-8), else its decoded text.
pub enum Text<'a> {
    Plain(&'a str),
    Decoded(String),
}

impl Text<'_> {
    pub fn as_str(&self) -> &str {
        match self {
            Text::Plain(text) => text,
            Text::Decoded(text) => text,
        }
    }
}

pub enum Node<'a> {
    Null,
    True,
    False,
    Number(&'a str),
    Text(Text<'a>),
    Array(Vec<Node<'a>>),
    Object(Vec<(Text<'a>, Node<'a>)>),
}

impl<'a> Node<'a> {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Node::Text(text) => Some(text.as_str()),
            _ => None,
        }
    }
}

pub fn parse(text: &[u8]) -> Result<Node<'_>, Malformed> {
    let text = simdutf8::basic::from_utf8(text).map_err(|_| Malformed)?;
    let mut parser = Parser { text: text.as_bytes(), source: text, at: 0 };
    parser.skip_space();
    let node = parser.value(0)?;
    parser.skip_space();
    if parser.at != parser.text.len() {
        return Err(Malformed);
    }
    Ok(node)
}

/// Where the run of bytes from `at` that need no attention in a string ends: eight bytes at a time while none of
/// them is `"`, `\\` or a control character (the byte loops after it find which one it is, or the end).
fn plain_run(text: &[u8], mut at: usize) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    while let Some(chunk) = text.get(at..at + 8) {
        let word = u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]));
        let zero_in = |v: u64| v.wrapping_sub(ONES) & !v & HIGH;
        let below_space = word.wrapping_sub(ONES * 0x20) & !word & HIGH;
        if zero_in(word ^ (ONES * b'"' as u64)) | zero_in(word ^ (ONES * b'\\' as u64)) | below_space != 0 {
            break;
        }
        at += 8;
    }
    at
}

struct Parser<'a> {
    text: &'a [u8],
    source: &'a str,
    at: usize,
}

impl<'a> Parser<'a> {
    fn skip_space(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.text.get(self.at) {
            self.at += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.text.get(self.at).copied()
    }

    fn expect(&mut self, byte: u8) -> Result<(), Malformed> {
        if self.peek() == Some(byte) {
            self.at += 1;
            Ok(())
        } else {
            Err(Malformed)
        }
    }

    fn value(&mut self, depth: usize) -> Result<Node<'a>, Malformed> {
        match self.peek().ok_or(Malformed)? {
            b'{' => self.object(depth + 1),
            b'[' => self.array(depth + 1),
            b'"' => Ok(Node::Text(self.string()?)),
            b't' => self.literal(b"true", Node::True),
            b'f' => self.literal(b"false", Node::False),
            b'n' => self.literal(b"null", Node::Null),
            b'-' | b'0'..=b'9' => self.number(),
            _ => Err(Malformed),
        }
    }

    fn literal(&mut self, word: &[u8], node: Node<'a>) -> Result<Node<'a>, Malformed> {
        if self.text[self.at..].starts_with(word) {
            self.at += word.len();
            Ok(node)
        } else {
            Err(Malformed)
        }
    }

    fn object(&mut self, depth: usize) -> Result<Node<'a>, Malformed> {
        if depth > MAX_DEPTH {
            return Err(Malformed);
        }
        self.at += 1;
        let mut members = Vec::new();
        self.skip_space();
        if self.peek() == Some(b'}') {
            self.at += 1;
            return Ok(Node::Object(members));
        }
        loop {
            self.skip_space();
            if self.peek() != Some(b'"') {
                return Err(Malformed);
            }
            let key = self.string()?;
            self.skip_space();
            self.expect(b':')?;
            self.skip_space();
            let item = self.value(depth)?;
            members.push((key, item));
            self.skip_space();
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b'}') => {
                    self.at += 1;
                    return Ok(Node::Object(members));
                }
                _ => return Err(Malformed),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Node<'a>, Malformed> {
        if depth > MAX_DEPTH {
            return Err(Malformed);
        }
        self.at += 1;
        let mut items = Vec::new();
        self.skip_space();
        if self.peek() == Some(b']') {
            self.at += 1;
            return Ok(Node::Array(items));
        }
        loop {
            self.skip_space();
            items.push(self.value(depth)?);
            self.skip_space();
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b']') => {
                    self.at += 1;
                    return Ok(Node::Array(items));
                }
                _ => return Err(Malformed),
            }
        }
    }

    fn string(&mut self) -> Result<Text<'a>, Malformed> {
        self.at += 1; // the opening quote
        let start = self.at;
        self.at = plain_run(self.text, self.at);
        loop {
            match self.peek().ok_or(Malformed)? {
                b'"' => {
                    let text = &self.source[start..self.at];
                    self.at += 1;
                    return Ok(Text::Plain(text));
                }
                b'\\' => break,
                0x00..=0x1f => return Err(Malformed),
                _ => self.at += 1,
            }
        }
        let mut decoded = String::from(&self.source[start..self.at]);
        loop {
            let byte = self.peek().ok_or(Malformed)?;
            match byte {
                b'"' => {
                    self.at += 1;
                    return Ok(Text::Decoded(decoded));
                }
                b'\\' => {
                    self.at += 1;
                    let escape = self.peek().ok_or(Malformed)?;
                    self.at += 1;
                    match escape {
                        b'"' => decoded.push('"'),
                        b'\\' => decoded.push('\\'),
                        b'/' => decoded.push('/'),
                        b'b' => decoded.push('\u{8}'),
                        b'f' => decoded.push('\u{c}'),
                        b'n' => decoded.push('\n'),
                        b'r' => decoded.push('\r'),
                        b't' => decoded.push('\t'),
                        b'u' => {
                            let unit = self.hex4()?;
                            let code = match unit {
                                0xd800..=0xdbff => {
                                    // a high surrogate must be followed by an escaped low one
                                    if !self.text[self.at..].starts_with(b"\\u") {
                                        return Err(Malformed);
                                    }
                                    self.at += 2;
                                    let low = self.hex4()?;
                                    if !(0xdc00..=0xdfff).contains(&low) {
                                        return Err(Malformed);
                                    }
                                    0x10000 + ((unit - 0xd800) << 10) + (low - 0xdc00)
                                }
                                0xdc00..=0xdfff => return Err(Malformed),
                                _ => unit,
                            };
                            decoded.push(char::from_u32(code).ok_or(Malformed)?);
                        }
                        _ => return Err(Malformed),
                    }
                }
                0x00..=0x1f => return Err(Malformed),
                _ => {
                    // a run of plain bytes (whole UTF-8 characters: it ends at an ASCII byte)
                    let run = self.at;
                    self.at = plain_run(self.text, self.at);
                    while let Some(next) = self.peek() {
                        if next == b'"' || next == b'\\' || next < 0x20 {
                            break;
                        }
                        self.at += 1;
                    }
                    decoded.push_str(&self.source[run..self.at]);
                }
            }
        }
    }

    fn hex4(&mut self) -> Result<u32, Malformed> {
        let digits = self.text.get(self.at..self.at + 4).ok_or(Malformed)?;
        let mut unit = 0u32;
        for &digit in digits {
            unit = unit * 16 + (digit as char).to_digit(16).ok_or(Malformed)?;
        }
        self.at += 4;
        Ok(unit)
    }

    fn digits(&mut self) -> usize {
        let start = self.at;
        while let Some(b'0'..=b'9') = self.peek() {
            self.at += 1;
        }
        self.at - start
    }

    fn number(&mut self) -> Result<Node<'a>, Malformed> {
        let start = self.at;
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        let integral = match self.peek() {
            Some(b'0') => {
                self.at += 1;
                1
            }
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(Malformed),
        };
        let mut float = false;
        if self.peek() == Some(b'.') {
            self.at += 1;
            float = true;
            if self.digits() == 0 {
                return Err(Malformed);
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.at += 1;
            float = true;
            if let Some(b'+' | b'-') = self.peek() {
                self.at += 1;
            }
            if self.digits() == 0 {
                return Err(Malformed);
            }
        }
        let text = &self.source[start..self.at];
        if float && !text.parse::<f64>().is_ok_and(f64::is_finite) {
            return Err(Malformed); // Python reads infinity; orjson refuses it
        }
        let limit = INT_MAX_STR_DIGITS.load(Ordering::Relaxed);
        if !float && limit > 0 && integral > limit {
            return Err(Malformed); // beyond Python's int/str conversion limit: json.loads refuses it
        }
        Ok(Node::Number(text))
    }
}
