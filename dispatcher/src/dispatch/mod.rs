//! Finding and sending units: the live unit index, response plans, recommendations, acknowledgement timers.

pub mod ack;
pub mod dedupe;
pub mod index;
pub mod plans;
pub mod recommend;
