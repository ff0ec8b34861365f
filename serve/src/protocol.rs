//! The wire protocol of `trutheye serve`: newline-delimited JSON, one request
//! per line and one response line per request, in order.
//!
//! A request is `{"v": 1, "id": <any JSON>, "method": "<name>", "params": {...}}`;
//! a response is `{"v": 1, "id": <the request's id>, "result": {...}}` or
//! `{"v": 1, "id": ..., "error": {"code": "<code>", "message": "<text>"}}`. A bad
//! line is answered with an error and the connection stays open.

use std::io::{BufRead, Write};

use serde_json::{json, Map, Value};

/// Major version of the protocol this server speaks.
pub const PROTOCOL_VERSION: u64 = 1;

/// Default longest request line (64 MiB: a base64 image fits comfortably).
pub const DEFAULT_MAX_LINE_BYTES: usize = 64 << 20;

/// A request that passed the envelope checks.
#[derive(Debug)]
pub struct Request {
    /// The client's id, echoed back.
    pub id: Value,
    /// Method name.
    pub method: String,
    /// Parameters (an empty object when absent).
    pub params: Map<String, Value>,
}

/// An error response: a stable machine-readable code and a readable message.
#[derive(Debug, Clone, PartialEq)]
pub struct RpcError {
    /// `unsupported_version`, `bad_json`, `bad_request`, `unknown_method`, ...
    pub code: &'static str,
    /// What was wrong.
    pub message: String,
}

impl RpcError {
    /// Builds an error.
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }

    /// `bad_request` with a message.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new("bad_request", message)
    }
}

/// Parses one request line. On failure returns the id (when one could be read)
/// with the error, so the response can still carry it.
pub fn parse_request(line: &[u8]) -> Result<Request, (Value, RpcError)> {
    let value: Value = serde_json::from_slice(line).map_err(|e| (Value::Null, RpcError::new("bad_json", format!("the request is not valid JSON: {e}"))))?;
    let Value::Object(mut obj) = value else {
        return Err((Value::Null, RpcError::new("bad_request", "the request must be a JSON object with \"v\", \"id\" and \"method\"")));
    };
    let id = obj.remove("id").unwrap_or(Value::Null);
    match obj.get("v") {
        None => return Err((id, RpcError::bad_request(format!("missing \"v\" (the protocol version; this server speaks {PROTOCOL_VERSION})")))),
        Some(v) => match major_version(v) {
            Some(PROTOCOL_VERSION) => {}
            _ => {
                return Err((
                    id,
                    RpcError::new("unsupported_version", format!("protocol version {v} is not supported; this server speaks major version {PROTOCOL_VERSION} (send \"v\": {PROTOCOL_VERSION})")),
                ))
            }
        },
    }
    let method = match obj.remove("method") {
        Some(Value::String(m)) => m,
        Some(other) => return Err((id, RpcError::bad_request(format!("\"method\" must be a string, got {other}")))),
        None => return Err((id, RpcError::bad_request("missing \"method\""))),
    };
    let params = match obj.remove("params") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(p)) => p,
        Some(other) => return Err((id, RpcError::bad_request(format!("\"params\" must be an object, got {other}")))),
    };
    Ok(Request { id, method, params })
}

/// The major version a `"v"` value names: `1`, `1.0`, `"1"`, `"1.2"`.
fn major_version(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64().or_else(|| n.as_f64().filter(|f| f.is_finite() && *f >= 0.0).map(|f| f.trunc() as u64)),
        Value::String(s) => s.trim().split('.').next().and_then(|m| m.parse().ok()),
        _ => None,
    }
}

/// A success response line (without the newline).
pub fn ok_line(id: &Value, result: Value) -> String {
    json!({"v": PROTOCOL_VERSION, "id": id, "result": result}).to_string()
}

/// An error response line (without the newline).
pub fn error_line(id: &Value, e: &RpcError) -> String {
    json!({"v": PROTOCOL_VERSION, "id": id, "error": {"code": e.code, "message": e.message}}).to_string()
}

/// What reading one line produced.
#[derive(Debug, PartialEq)]
pub enum Line {
    /// A complete line (without its newline).
    Data(Vec<u8>),
    /// A line longer than the limit; it was read and thrown away.
    TooLong(usize),
    /// The peer closed the connection.
    Eof,
}

/// Reads one line of at most `max` bytes. A longer line is consumed up to its
/// newline (without holding it in memory) and reported as [`Line::TooLong`].
pub fn read_line(reader: &mut impl BufRead, max: usize) -> std::io::Result<Line> {
    let mut buf = Vec::new();
    let mut total = 0usize;
    let mut too_long = false;
    loop {
        let chunk = reader.fill_buf()?;
        if chunk.is_empty() {
            return Ok(if total == 0 { Line::Eof } else if too_long { Line::TooLong(total) } else { Line::Data(buf) });
        }
        let (take, done) = match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (chunk.len(), false),
        };
        let body = if done { &chunk[..take - 1] } else { &chunk[..take] };
        total += body.len();
        if !too_long {
            if total > max {
                too_long = true;
                buf = Vec::new();
            } else {
                buf.extend_from_slice(body);
            }
        }
        reader.consume(take);
        if done {
            if too_long {
                return Ok(Line::TooLong(total));
            }
            if buf.last() == Some(&b'\r') {
                buf.pop();
            }
            return Ok(Line::Data(buf));
        }
    }
}

/// Writes one response line and flushes.
pub fn write_line(w: &mut impl Write, line: &str) -> std::io::Result<()> {
    w.write_all(line.as_bytes())?;
    w.write_all(b"\n")?;
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_and_envelopes() {
        assert!(parse_request(br#"{"v":1,"id":3,"method":"hello"}"#).is_ok());
        assert!(parse_request(br#"{"v":"1.4","id":3,"method":"hello"}"#).is_ok());
        let (id, e) = parse_request(br#"{"v":2,"id":"a","method":"hello"}"#).expect_err("v2");
        assert_eq!((id, e.code), (json!("a"), "unsupported_version"));
        assert_eq!(parse_request(b"{nope").expect_err("json").1.code, "bad_json");
        assert_eq!(parse_request(br#"{"v":1,"id":1}"#).expect_err("method").1.code, "bad_request");
        assert_eq!(parse_request(br#"[1]"#).expect_err("array").1.code, "bad_request");
    }

    #[test]
    fn long_lines_are_skipped_whole() {
        let data = format!("{}\nshort\n", "x".repeat(100));
        let mut r = std::io::BufReader::with_capacity(7, data.as_bytes());
        assert_eq!(read_line(&mut r, 10).expect("read"), Line::TooLong(100));
        assert_eq!(read_line(&mut r, 10).expect("read"), Line::Data(b"short".to_vec()));
        assert_eq!(read_line(&mut r, 10).expect("read"), Line::Eof);
    }
}
