//! Prometheus remote write 1.0 on the wire: the `WriteRequest` protobuf
//! (`prometheus/prompb/remote.proto` and `types.proto`, the fields 1.0 uses),
//! snappy-compressed in the block format, with the headers the specification
//! requires.
//!
//! The messages are derived with prost from these structs rather than
//! generated from the `.proto` files: five fields do not need protoc or a
//! build script, and the tags below are the specification's.

/// `prometheus.WriteRequest`: series and their samples. Field 3 (metadata)
/// is optional in 1.0 and not sent.
#[derive(Clone, PartialEq, prost::Message)]
pub struct WriteRequest {
    /// The series.
    #[prost(message, repeated, tag = "1")]
    pub timeseries: Vec<TimeSeries>,
}

/// `prometheus.TimeSeries`: labels sorted by name (`__name__` among them),
/// samples oldest first.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TimeSeries {
    /// The labels, sorted by name.
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    /// The samples, oldest first.
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<Sample>,
}

/// `prometheus.Label`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Message)]
pub struct Label {
    /// Its name.
    #[prost(string, tag = "1")]
    pub name: String,
    /// Its value.
    #[prost(string, tag = "2")]
    pub value: String,
}

/// `prometheus.Sample`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Sample {
    /// The value.
    #[prost(double, tag = "1")]
    pub value: f64,
    /// Unix milliseconds.
    #[prost(int64, tag = "2")]
    pub timestamp: i64,
}

/// The headers every request carries besides `User-Agent` (the HTTP
/// client's) and credentials.
pub const HEADERS: [(&str, &str); 3] = [
    ("Content-Encoding", "snappy"),
    ("Content-Type", "application/x-protobuf"),
    ("X-Prometheus-Remote-Write-Version", "0.1.0"),
];

/// The request's body: the protobuf, snappy-compressed (block format, as
/// the specification requires; not snappy's framed stream).
pub fn encode(request: &WriteRequest) -> Result<Vec<u8>, snap::Error> {
    use prost::Message as _;
    snap::raw::Encoder::new().compress_vec(&request.encode_to_vec())
}

/// A body back into its request, as a receiver reads it (tests, and the
/// benchmark's check).
pub fn decode(body: &[u8]) -> Result<WriteRequest, String> {
    use prost::Message as _;
    let raw = snap::raw::Decoder::new().decompress_vec(body).map_err(|err| format!("snappy: {err}"))?;
    WriteRequest::decode(raw.as_slice()).map_err(|err| format!("protobuf: {err}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_survives_the_wire_and_is_what_the_specification_lays_out() {
        let request = WriteRequest {
            timeseries: vec![TimeSeries {
                labels: vec![
                    Label { name: "__name__".into(), value: "perfmon_cpu_usage_percent".into() },
                    Label { name: "host".into(), value: "box".into() },
                ],
                samples: vec![Sample { value: 12.5, timestamp: 1_700_000_000_000 }],
            }],
        };
        let body = encode(&request).expect("compresses");
        assert_eq!(decode(&body), Ok(request.clone()));
        // Field 1 of WriteRequest, length-delimited (tag byte 0x0a); inside,
        // field 1 of TimeSeries (0x0a), a Label whose name is field 1 (0x0a).
        use prost::Message as _;
        let raw = request.encode_to_vec();
        assert_eq!(&raw[..1], &[0x0a]);
        let label = Label { name: "a".into(), value: "b".into() }.encode_to_vec();
        assert_eq!(label, vec![0x0a, 1, b'a', 0x12, 1, b'b']);
        // A double is field 1 wire type 1 (0x09), the timestamp field 2 varint (0x10).
        let sample = Sample { value: 1.0, timestamp: 1 }.encode_to_vec();
        assert_eq!(sample, vec![0x09, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0x10, 1]);
        // Snappy's block format starts with the uncompressed length as a varint.
        assert_eq!(usize::from(body[0]), raw.len());
    }

    #[test]
    fn a_body_that_is_not_snappy_or_not_the_message_is_refused_with_the_reason() {
        assert!(decode(b"not snappy at all").expect_err("refused").starts_with("snappy"));
        let garbage = snap::raw::Encoder::new().compress_vec(&[0xff, 0xff, 0xff]).expect("compresses");
        assert!(decode(&garbage).expect_err("refused").starts_with("protobuf"));
    }
}
