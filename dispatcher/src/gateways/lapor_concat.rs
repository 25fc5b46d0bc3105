//! Multi-part (UDH-concatenated) SMS: the gateway's inbound JSON and a bounded, clock-free reassembler.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use incident_types::FieldError;
use serde::{Deserialize, Serialize};

/// Longest accepted text of one part, in characters; longer texts are cut by
/// [`ConcatAssembler::push`] and refused by [`parse_inbound`]. (One SMS part
/// is at most 153 GSM characters; the margin allows gateways that merge.)
pub const MAX_PART_CHARS: usize = 1600;
/// Put in place of each run of missing parts in an incomplete message.
pub const MISSING_PART_MARKER: &str = "[...]";
/// Longest accepted inbound JSON, in bytes.
const MAX_INBOUND_BYTES: usize = 16 * 1024;

/// The UDH concatenation header of one part, as the gateway reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConcatHeader {
    /// Concatenation reference, 0 to 65535 (8- or 16-bit UDH).
    #[serde(rename = "ref")]
    pub reference: u16,
    /// Number of parts, 1 to 255.
    pub total: u8,
    /// This part's number, 1 to `total`.
    pub seq: u8,
}

/// One SMS as the gateway posts it (see `docs/gateways.md`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboundSms {
    /// The sender's number (E.164 preferred, `+62...`).
    pub from: String,
    /// The short code it was sent to (`1708`, or `112` for AML).
    pub to: String,
    pub text: String,
    pub received_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concat: Option<ConcatHeader>,
}

impl InboundSms {
    /// The SMS as a part for [`ConcatAssembler::push`]; a message without
    /// `concat` is a single part (total 1).
    pub fn into_part(self) -> SmsPart {
        let c = self.concat.unwrap_or(ConcatHeader {
            reference: 0,
            total: 1,
            seq: 1,
        });
        SmsPart {
            from: self.from,
            reference: c.reference,
            total: c.total,
            seq: c.seq,
            text: self.text,
            received_at: self.received_at,
        }
    }
}

/// Reads and validates the gateway's inbound JSON: `from` 1 to 32
/// characters of `+`, digits or letters (alphanumeric senders), `to`
/// non-empty, `text` at most [`MAX_PART_CHARS`], `received_at` RFC 3339,
/// `concat` (optional) with `1 <= seq <= total`. Unknown keys are ignored.
pub fn parse_inbound(json: &str) -> Result<InboundSms, FieldError> {
    if json.len() > MAX_INBOUND_BYTES {
        return Err(FieldError::new(
            "body",
            format!("must be at most {MAX_INBOUND_BYTES} bytes"),
        ));
    }
    let sms: InboundSms = serde_json::from_str(json).map_err(|e| {
        let field = ["from", "to", "text", "received_at", "ref", "total", "seq"]
            .into_iter()
            .find(|f| e.to_string().contains(&format!("`{f}`")))
            .unwrap_or("body");
        FieldError::new(field, format!("invalid inbound SMS: {e}"))
    })?;
    validate_inbound(sms)
}

/// The gateway rules for an already-deserialised inbound SMS (see [`parse_inbound`]).
pub fn validate_inbound(sms: InboundSms) -> Result<InboundSms, FieldError> {
    let from_ok = (1..=32).contains(&sms.from.chars().count())
        && sms
            .from
            .chars()
            .all(|c| c == '+' || c == ' ' || c.is_ascii_alphanumeric());
    if !from_ok {
        return Err(FieldError::new(
            "from",
            "must be 1 to 32 characters: '+', digits or letters",
        ));
    }
    if sms.to.trim().is_empty() || sms.to.chars().count() > 32 {
        return Err(FieldError::new("to", "must be 1 to 32 characters"));
    }
    if sms.text.chars().nth(MAX_PART_CHARS).is_some() {
        return Err(FieldError::new(
            "text",
            format!("must be at most {MAX_PART_CHARS} characters"),
        ));
    }
    if let Some(c) = sms.concat {
        if c.total == 0 {
            return Err(FieldError::new("concat.total", "must be 1 to 255"));
        }
        if c.seq == 0 || c.seq > c.total {
            return Err(FieldError::new("concat.seq", "must be 1 to total"));
        }
    }
    Ok(sms)
}

/// One part of a (possibly) multi-part SMS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsPart {
    pub from: String,
    pub reference: u16,
    pub total: u8,
    pub seq: u8,
    pub text: String,
    pub received_at: DateTime<Utc>,
}

/// A whole message, or what arrived of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssembledSms {
    pub from: String,
    /// The parts' texts in `seq` order; in an incomplete message each run of
    /// missing parts is replaced by [`MISSING_PART_MARKER`].
    pub text: String,
    /// The earliest `received_at` of the parts that arrived.
    pub received_at: DateTime<Utc>,
    pub complete: bool,
    /// How many parts arrived.
    pub parts: u8,
}

#[derive(Debug)]
struct Pending {
    /// `now` when its first part arrived: the window runs from here.
    started: DateTime<Utc>,
    /// Insertion order, to evict the oldest deterministically.
    order: u64,
    received_at: DateTime<Utc>,
    texts: Vec<Option<String>>,
}

/// Sender, reference and total: parts with a different total never mix.
type Key = (String, u16, u8);

/// Joins the parts of concatenated SMS. A pure state machine: time comes in
/// as `now` on every call; memory is bounded by `max_pending`.
#[derive(Debug)]
pub struct ConcatAssembler {
    window: Duration,
    max_pending: usize,
    pending: HashMap<Key, Pending>,
    /// Incomplete messages pushed out early (evicted, or superseded by a
    /// part after the window); handed over by the next [`Self::expire`].
    dropped: Vec<AssembledSms>,
    counter: u64,
}

impl ConcatAssembler {
    /// `window`: how long the parts of one message may take to arrive;
    /// `max_pending`: most incomplete messages kept (at least 1), the
    /// oldest is evicted beyond it.
    pub fn new(window: Duration, max_pending: usize) -> Self {
        Self {
            window,
            max_pending: max_pending.max(1),
            pending: HashMap::new(),
            dropped: Vec::new(),
            counter: 0,
        }
    }

    /// Incomplete messages currently held.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Adds a part; returns the whole message once every part (1..=total)
    /// from that sender+reference arrived within the window. A duplicated
    /// part is ignored (the first copy is kept). A part arriving after the
    /// window of its message starts a fresh message (the old, incomplete one
    /// goes to the next [`Self::expire`]). A single part (`total` 1) is
    /// returned at once, and so is an invalid one (`seq` 0 or above `total`),
    /// as an incomplete message of its own so that no text is lost. Texts
    /// longer than [`MAX_PART_CHARS`] are cut.
    pub fn push(&mut self, part: SmsPart, now: DateTime<Utc>) -> Option<AssembledSms> {
        let SmsPart {
            from,
            reference,
            total,
            seq,
            text,
            received_at,
        } = part;
        let text = cut(text);
        if total <= 1 || seq == 0 || seq > total {
            let complete = total == 1 && seq == 1;
            return Some(AssembledSms {
                from,
                text,
                received_at,
                complete,
                parts: 1,
            });
        }
        let key: Key = (from, reference, total);
        if let Some(p) = self.pending.get(&key) {
            if self.is_expired(p, now) {
                if let Some(old) = self.pending.remove(&key) {
                    let msg = assemble(&key.0, old, false);
                    self.push_dropped(msg);
                }
            }
        }
        if !self.pending.contains_key(&key) {
            self.make_room();
            self.counter = self.counter.wrapping_add(1);
            let texts = vec![None; usize::from(total)];
            let entry = Pending {
                started: now,
                order: self.counter,
                received_at,
                texts,
            };
            self.pending.insert(key.clone(), entry);
        }
        let entry = self.pending.get_mut(&key)?;
        let slot = entry.texts.get_mut(usize::from(seq).saturating_sub(1))?;
        if slot.is_some() {
            return None;
        }
        *slot = Some(text);
        entry.received_at = entry.received_at.min(received_at);
        if entry.texts.iter().all(Option::is_some) {
            let done = self.pending.remove(&key)?;
            return Some(assemble(&key.0, done, true));
        }
        None
    }

    /// Drops incomplete messages older than the window and returns them
    /// (with any pushed out earlier by eviction or a late part), oldest
    /// first, so the caller can store what arrived.
    pub fn expire(&mut self, now: DateTime<Utc>) -> Vec<AssembledSms> {
        let expired: Vec<Key> = self
            .pending
            .iter()
            .filter(|(_, p)| self.is_expired(p, now))
            .map(|(k, _)| k.clone())
            .collect();
        let mut timed_out: Vec<(u64, AssembledSms)> = expired
            .into_iter()
            .filter_map(|k| {
                let p = self.pending.remove(&k)?;
                Some((p.order, assemble(&k.0, p, false)))
            })
            .collect();
        timed_out.sort_by_key(|(order, _)| *order);
        let mut out = std::mem::take(&mut self.dropped);
        out.extend(timed_out.into_iter().map(|(_, m)| m));
        out
    }

    fn is_expired(&self, p: &Pending, now: DateTime<Utc>) -> bool {
        now.signed_duration_since(p.started) > self.window
    }

    /// Evicts the oldest pending message while the table is full.
    fn make_room(&mut self) {
        while self.pending.len() >= self.max_pending {
            let Some(oldest) = self
                .pending
                .iter()
                .min_by_key(|(_, p)| (p.started, p.order))
                .map(|(k, _)| k.clone())
            else {
                return;
            };
            if let Some(p) = self.pending.remove(&oldest) {
                let msg = assemble(&oldest.0, p, false);
                self.push_dropped(msg);
            }
        }
    }

    /// Keeps at most `max_pending` messages waiting for [`Self::expire`];
    /// beyond that the oldest is lost (call `expire` regularly).
    fn push_dropped(&mut self, msg: AssembledSms) {
        if self.dropped.len() >= self.max_pending {
            self.dropped.remove(0);
        }
        self.dropped.push(msg);
    }
}

fn cut(text: String) -> String {
    match text.char_indices().nth(MAX_PART_CHARS) {
        Some((i, _)) => text.get(..i).unwrap_or_default().to_string(),
        None => text,
    }
}

fn assemble(from: &str, p: Pending, complete: bool) -> AssembledSms {
    let mut text = String::new();
    let mut parts: u8 = 0;
    let mut in_gap = false;
    for t in p.texts {
        match t {
            Some(t) => {
                text.push_str(&t);
                parts = parts.saturating_add(1);
                in_gap = false;
            }
            None if !in_gap => {
                text.push_str(MISSING_PART_MARKER);
                in_gap = true;
            }
            None => {}
        }
    }
    AssembledSms {
        from: from.to_string(),
        text,
        received_at: p.received_at,
        complete,
        parts,
    }
}
