//! SMS to 1708 (SP4N LAPOR) intake: the `BADUNG <isi aduan>` format, the Indonesian replies, and multi-part SMS reassembly.
//!
//! [`parse_lapor`] reads one (reassembled) SMS; [`reply_for_rejection`] and
//! [`reply_for_accepted`] give the text the gateway sends back;
//! [`ConcatAssembler`] joins the parts of a long SMS; [`parse_inbound`]
//! reads the gateway's inbound JSON. Nothing here panics on any input.

#[path = "lapor_concat.rs"]
mod concat;
#[cfg(test)]
#[path = "lapor_tests.rs"]
mod tests;

pub use concat::{
    parse_inbound, validate_inbound, AssembledSms, ConcatAssembler, ConcatHeader, InboundSms, SmsPart, MAX_PART_CHARS,
    MISSING_PART_MARKER,
};

/// The keyword a 1708 SMS must start with (any case).
pub const KEYWORD: &str = "BADUNG";
/// Longest accepted complaint, in characters (after trimming).
pub const MAX_COMPLAINT_CHARS: usize = 4000;

/// The result of reading one SMS sent to 1708.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LaporParse {
    /// The complaint text, trimmed, keyword and separator removed.
    Complaint(String),
    Rejected(LaporRejection),
}

/// Why an SMS is not a complaint; each has a reply ([`reply_for_rejection`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LaporRejection {
    /// The text does not start with the word `BADUNG`.
    MissingKeyword,
    /// `BADUNG` with nothing (or only punctuation) after it.
    EmptyComplaint,
    /// More than [`MAX_COMPLAINT_CHARS`] characters.
    TooLong,
}

impl LaporRejection {
    /// A stable machine code: `missing_keyword`, `empty_complaint`, `too_long`.
    pub fn code(self) -> &'static str {
        match self {
            Self::MissingKeyword => "missing_keyword",
            Self::EmptyComplaint => "empty_complaint",
            Self::TooLong => "too_long",
        }
    }
}

/// Characters that may stand between the keyword and the complaint, besides
/// whitespace: `BADUNG: ...`, `BADUNG, ...`, `BADUNG. ...`, `BADUNG- ...`.
fn is_separator(c: char) -> bool {
    matches!(
        c,
        ':' | ',' | '.' | '-' | ';' | '/' | '#' | '*' | '_' | '=' | '>' | '\u{2013}' | '\u{2014}'
    )
}

/// Invisible characters some phones put before the text (byte-order mark,
/// zero-width space/joiners), treated as whitespace at the start.
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{feff}' | '\u{200b}' | '\u{200c}' | '\u{200d}' | '\u{2060}')
}

/// Reads an SMS sent to 1708: `BADUNG <isi aduan>`.
///
/// The keyword is matched case-insensitively after any leading whitespace
/// (non-breaking spaces included); it must be a whole word (`BADUNGKU` is
/// not it), and may be followed by whitespace, a newline or separators such
/// as `:` `,` `.` `-`.
pub fn parse_lapor(text: &str) -> LaporParse {
    let start = text.trim_start_matches(|c: char| c.is_whitespace() || is_invisible(c));
    let Some(head) = start.get(..KEYWORD.len()) else {
        return LaporParse::Rejected(LaporRejection::MissingKeyword);
    };
    if !head.eq_ignore_ascii_case(KEYWORD) {
        return LaporParse::Rejected(LaporRejection::MissingKeyword);
    }
    let rest = start.get(KEYWORD.len()..).unwrap_or_default();
    if rest.chars().next().is_some_and(char::is_alphanumeric) {
        return LaporParse::Rejected(LaporRejection::MissingKeyword);
    }
    let complaint = rest
        .trim_start_matches(|c: char| c.is_whitespace() || is_separator(c) || is_invisible(c))
        .trim_end();
    if complaint.is_empty() {
        return LaporParse::Rejected(LaporRejection::EmptyComplaint);
    }
    if complaint.chars().nth(MAX_COMPLAINT_CHARS).is_some() {
        return LaporParse::Rejected(LaporRejection::TooLong);
    }
    LaporParse::Complaint(complaint.to_string())
}

/// The format reminder every rejection ends with.
const FORMAT_HINT: &str = "Kirim: BADUNG <isi aduan>. Contoh: BADUNG Lampu jalan mati di Jl. Raya Kuta";

/// The Indonesian SMS sent back for a rejected message (GSM 7-bit
/// characters only, at most 160 characters, so it fits one SMS).
pub fn reply_for_rejection(r: LaporRejection) -> String {
    match r {
        LaporRejection::MissingKeyword => format!("Format salah. {FORMAT_HINT}"),
        LaporRejection::EmptyComplaint => format!("Isi aduan kosong. {FORMAT_HINT}"),
        LaporRejection::TooLong => format!(
            "Aduan terlalu panjang (maks. {MAX_COMPLAINT_CHARS} karakter). Persingkat lalu kirim lagi: BADUNG <isi aduan>"
        ),
    }
}

/// The Indonesian SMS sent back for an accepted complaint. It gives the
/// tracking `number`; for an emergency it also tells the sender to call 112
/// if a life is at risk. Control characters in `number` are dropped and it
/// is cut to 40 characters.
pub fn reply_for_accepted(number: &str, emergency: bool) -> String {
    let number: String = number.chars().filter(|c| !c.is_control()).take(40).collect();
    if emergency {
        format!(
            "Aduan DARURAT Anda diterima, nomor {number}. Petugas segera menindaklanjuti. Jika ada nyawa terancam, segera telepon 112."
        )
    } else {
        format!("Aduan Anda diterima, nomor {number}. Simpan nomor ini untuk menanyakan perkembangannya. Terima kasih.")
    }
}
