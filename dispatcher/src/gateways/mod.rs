//! Parsers for the intake gateways' own formats: AML caller locations and SMS to 1708.

pub mod aml;
pub mod lapor;
