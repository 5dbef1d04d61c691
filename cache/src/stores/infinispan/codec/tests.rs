//! Byte-exact vectors for the Hot Rod codec.
//!
//! Request vectors marked "npm" were captured from the `infinispan` npm client 0.13.0 (the
//! client Backstage uses) by our test server; the others follow the protocol documentation.

use super::*;

fn unhex(text: &str) -> Vec<u8> {
    let text: String = text.split_whitespace().collect();
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

fn vint(value: u32) -> Vec<u8> {
    let mut out = Vec::new();
    put_vint(&mut out, value);
    out
}

fn vlong(value: u64) -> Vec<u8> {
    let mut out = Vec::new();
    put_vlong(&mut out, value);
    out
}

#[test]
fn vint_and_vlong_encoding() {
    assert_eq!(vint(0), [0x00]);
    assert_eq!(vint(1), [0x01]);
    assert_eq!(vint(127), [0x7F]);
    assert_eq!(vint(128), [0x80, 0x01]);
    assert_eq!(vint(300), [0xAC, 0x02]);
    assert_eq!(vint(16_383), [0xFF, 0x7F]);
    assert_eq!(vint(16_384), [0x80, 0x80, 0x01]);
    assert_eq!(vint(60_000), [0xE0, 0xD4, 0x03]);
    assert_eq!(vint(u32::MAX), [0xFF, 0xFF, 0xFF, 0xFF, 0x0F]);
    assert_eq!(vlong(0), [0x00]);
    assert_eq!(vlong(1 << 35), [0x80, 0x80, 0x80, 0x80, 0x80, 0x01]);
    assert_eq!(
        vlong(u64::MAX),
        [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]
    );
}

#[test]
fn vint_and_vlong_decoding() {
    for value in [
        0u32,
        1,
        127,
        128,
        300,
        16_383,
        16_384,
        1 << 21,
        1 << 28,
        u32::MAX,
    ] {
        let bytes = vint(value);
        let mut r = Reader::new(&bytes);
        assert_eq!(r.vint(), Ok(value));
        assert_eq!(r.remaining(), 0);
        for cut in 0..bytes.len() {
            assert_eq!(
                Reader::new(&bytes[..cut]).vint(),
                Err(DecodeError::Incomplete)
            );
        }
    }
    for value in [0u64, 1 << 35, 1 << 56, 1 << 63, u64::MAX] {
        let bytes = vlong(value);
        assert_eq!(Reader::new(&bytes).vlong(), Ok(value));
    }
    // Six bytes is too long for a vInt; a fifth byte over 0x0F overflows 32 bits.
    assert!(matches!(
        Reader::new(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x01]).vint(),
        Err(DecodeError::Malformed(_))
    ));
    assert!(matches!(
        Reader::new(&[0xFF, 0xFF, 0xFF, 0xFF, 0x10]).vint(),
        Err(DecodeError::Malformed(_))
    ));
    // Eleven bytes, or a tenth byte over 1, is too much for a vLong.
    assert!(matches!(
        Reader::new(&[0xFF; 11]).vlong(),
        Err(DecodeError::Malformed(_))
    ));
    assert!(matches!(
        Reader::new(&[0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x02]).vlong(),
        Err(DecodeError::Malformed(_))
    ));
}

#[test]
fn strings_and_byte_arrays() {
    let mut out = Vec::new();
    put_string(&mut out, "");
    put_string(&mut out, "cache");
    put_string(&mut out, "ü");
    put_bytes(&mut out, &[0xFF; 130]);
    let mut expected = unhex("00 05 6361636865 02 c3bc 8201");
    expected.extend_from_slice(&[0xFF; 130]);
    assert_eq!(out, expected);

    let mut r = Reader::new(&out);
    assert_eq!(r.string().unwrap(), "");
    assert_eq!(r.string().unwrap(), "cache");
    assert_eq!(r.string().unwrap(), "ü");
    assert_eq!(r.bytes(130).unwrap(), &[0xFF; 130][..]);
    // A length over the caller's limit is rejected before any read or allocation.
    assert!(matches!(
        Reader::new(&unhex("ffffffff0f")).bytes(MAX_VALUE_LEN),
        Err(DecodeError::Malformed(_))
    ));
    assert_eq!(
        Reader::new(&unhex("05 6361")).string(),
        Err(DecodeError::Incomplete)
    );
}

#[test]
fn media_type_json_matches_json_stringify() {
    let json = MediaType::ApplicationJson;
    assert_eq!(
        json.encode_str("a\"b\\c\n\u{1}é/"),
        r#""a\"b\\c\n\u0001é/""#.as_bytes()
    );
    assert_eq!(json.decode_str(br#""x\u00e9""#).unwrap(), "xé");
    assert_eq!(
        json.decode_str(br#"{"value":1}"#).unwrap(),
        r#"{"value":1}"#
    );
    assert!(json.decode_str(b"{").is_err());
    assert!(MediaType::TextPlain.decode_str(&[0xFF]).is_err());
}

fn header(version: ProtocolVersion, message_id: u64) -> RequestHeader<'static> {
    RequestHeader {
        version,
        message_id,
        cache_name: "cache",
        flags: 0,
        intelligence: intelligence::HASH_DISTRIBUTION_AWARE,
        topology_id: 0,
        key_media_type: MediaType::TextPlain,
        value_media_type: MediaType::TextPlain,
    }
}

fn encode(version: ProtocolVersion, message_id: u64, request: Request<'_>) -> Vec<u8> {
    encode_request(&header(version, message_id), &request).unwrap()
}

#[test]
fn requests_match_the_npm_client_byte_for_byte() {
    use ProtocolVersion::V29;
    // npm: ping(), message id 3.
    assert_eq!(
        encode(V29, 3, Request::Ping),
        unhex("a0 03 1d 17 05 6361636865 00 03 00 010d00 010d00")
    );
    // npm: get('catalog:cnVzdA=='), message id 5.
    assert_eq!(
        encode(
            V29,
            5,
            Request::Get {
                key: b"catalog:cnVzdA=="
            }
        ),
        unhex(
            "a0 05 1d 03 05 6361636865 00 03 00 010d00 010d00 10 636174616c6f673a636e567a64413d3d"
        )
    );
    // npm: put('catalog:a', '{"value":1}') — no lifespan: expiration byte 0x77.
    let put = Request::Put {
        key: b"catalog:a",
        value: br#"{"value":1}"#,
        lifespan: Expiry::ServerDefault,
        max_idle: Expiry::ServerDefault,
    };
    assert_eq!(
        encode(V29, 0, put),
        unhex(
            "a0 00 1d 01 05 6361636865 00 03 00 010d00 010d00 09 636174616c6f673a61 77 \
             0b 7b2276616c7565223a317d"
        )
    );
    // npm: put('catalog:b', …, { lifespan: '60000ms' }) — 0x17 then the milliseconds.
    let put = Request::Put {
        key: b"catalog:b",
        value: br#"{"value":2,"expires":1}"#,
        lifespan: Expiry::millis(60_000),
        max_idle: Expiry::ServerDefault,
    };
    assert_eq!(
        encode(V29, 0, put),
        unhex(
            "a0 00 1d 01 05 6361636865 00 03 00 010d00 010d00 09 636174616c6f673a62 17 e0d403 \
             17 7b2276616c7565223a322c2265787069726573223a317d"
        )
    );
}

#[test]
fn requests_for_every_opcode_and_version() {
    use ProtocolVersion::{V22, V25, V29, V30};
    let media = "010d00 010d00";
    assert_eq!(
        encode(V29, 7, Request::Remove { key: b"p:k" }),
        unhex(&format!(
            "a0 07 1d 0b 05 6361636865 00 03 00 {media} 03 703a6b"
        ))
    );
    assert_eq!(
        encode(V29, 8, Request::Clear),
        unhex(&format!("a0 08 1d 13 05 6361636865 00 03 00 {media}"))
    );
    assert_eq!(
        encode(V29, 9, Request::AuthMechList),
        unhex(&format!("a0 09 1d 21 05 6361636865 00 03 00 {media}"))
    );
    assert_eq!(
        encode(
            V29,
            10,
            Request::Auth {
                mechanism: "PLAIN",
                response: b"\0u\0p",
            }
        ),
        unhex(&format!(
            "a0 0a 1d 23 05 6361636865 00 03 00 {media} 05 504c41494e 04 00750070"
        ))
    );
    // 3.0: same header layout, version byte 30.
    assert_eq!(
        encode(V30, 200, Request::Get { key: b"k" }),
        unhex(&format!(
            "a0 c801 1e 03 05 6361636865 00 03 00 {media} 01 6b"
        ))
    );
    // 2.5 and 2.2: no media types.
    assert_eq!(
        encode(V25, 1, Request::Get { key: b"k" }),
        unhex("a0 01 19 03 05 6361636865 00 03 00 01 6b")
    );
    assert_eq!(
        encode(V22, 1, Request::Ping),
        unhex("a0 01 16 17 05 6361636865 00 03 00")
    );
    // JSON media type, basic intelligence, a topology id, the default cache, every time unit.
    let h = RequestHeader {
        version: V29,
        message_id: 1,
        cache_name: "",
        flags: 0,
        intelligence: intelligence::BASIC,
        topology_id: 300,
        key_media_type: MediaType::ApplicationJson,
        value_media_type: MediaType::TextPlain,
    };
    let put = Request::Put {
        key: b"\"k\"",
        value: b"v",
        lifespan: Expiry::After {
            value: 2,
            unit: TimeUnit::Hours,
        },
        max_idle: Expiry::Infinite,
    };
    assert_eq!(
        encode_request(&h, &put).unwrap(),
        unhex("a0 01 1d 01 00 00 01 ac02 010200 010d00 03 226b22 58 02 01 76")
    );
    let put = Request::Put {
        key: b"k",
        value: b"v",
        lifespan: Expiry::After {
            value: 5,
            unit: TimeUnit::Seconds,
        },
        max_idle: Expiry::After {
            value: 7,
            unit: TimeUnit::Days,
        },
    };
    assert_eq!(
        encode_request(&h, &put).unwrap(),
        unhex("a0 01 1d 01 00 00 01 ac02 010200 010d00 01 6b 06 05 07 01 76")
    );
}

#[test]
fn oversized_values_are_refused() {
    let big = vec![0u8; MAX_VALUE_LEN + 1];
    let put = Request::Put {
        key: b"k",
        value: &big,
        lifespan: Expiry::ServerDefault,
        max_idle: Expiry::ServerDefault,
    };
    assert!(encode_request(&header(ProtocolVersion::V29, 1), &put).is_err());
}

fn context(request_opcode: u8) -> ResponseContext {
    ResponseContext {
        version: ProtocolVersion::V29,
        intelligence: intelligence::HASH_DISTRIBUTION_AWARE,
        request_opcode,
    }
}

fn decode(hex: &str, request_opcode: u8) -> Result<Response, DecodeError> {
    decode_with(hex, &context(request_opcode))
}

fn decode_with(hex: &str, context: &ResponseContext) -> Result<Response, DecodeError> {
    let bytes = unhex(hex);
    let (response, used) = decode_response(&bytes, context)?;
    assert_eq!(used, bytes.len(), "the whole response is consumed");
    // Every strict prefix is incomplete, never malformed and never a panic.
    for cut in 0..bytes.len() {
        assert_eq!(
            decode_response(&bytes[..cut], context).map(|_| ()),
            Err(DecodeError::Incomplete),
            "prefix of {cut} bytes"
        );
    }
    Ok(response)
}

#[test]
fn responses_for_every_opcode() {
    let r = decode("a1 05 04 00 00 03 616263", opcode::GET).unwrap();
    assert_eq!(r.header.message_id, 5);
    assert_eq!(r.header.status, status::SUCCESS);
    assert_eq!(r.body, ResponseBody::Get(Some(b"abc".to_vec())));
    assert_eq!(
        decode("a1 05 04 02 00", opcode::GET).unwrap().body,
        ResponseBody::Get(None)
    );
    // 2.4–2.8 object-storage hint.
    assert_eq!(
        decode("a1 05 04 06 00 01 78", opcode::GET).unwrap().body,
        ResponseBody::Get(Some(b"x".to_vec()))
    );
    assert_eq!(
        decode("a1 06 02 00 00", opcode::PUT).unwrap().body,
        ResponseBody::Put { previous: None }
    );
    assert_eq!(
        decode("a1 06 02 03 00 01 70", opcode::PUT).unwrap().body,
        ResponseBody::Put {
            previous: Some(b"p".to_vec())
        }
    );
    assert_eq!(
        decode("a1 07 0c 00 00", opcode::REMOVE).unwrap().body,
        ResponseBody::Remove { removed: true }
    );
    assert_eq!(
        decode("a1 07 0c 02 00", opcode::REMOVE).unwrap().body,
        ResponseBody::Remove { removed: false }
    );
    assert_eq!(
        decode("a1 08 14 00 00", opcode::CLEAR).unwrap().body,
        ResponseBody::Clear
    );
    assert_eq!(
        decode("a1 03 18 00 00 010d00 010d00", opcode::PING)
            .unwrap()
            .body,
        ResponseBody::Ping(PingInfo {
            key_media_type: Some("text/plain".into()),
            value_media_type: Some("text/plain".into()),
            ..PingInfo::default()
        })
    );
    // A custom media type name with a parameter, and no media type.
    assert_eq!(
        decode(
            "a1 03 18 00 00 02 08 782f792b6a736f6e 01 07 636861727365 74 05 5554462d38 00",
            opcode::PING
        )
        .unwrap()
        .body,
        ResponseBody::Ping(PingInfo {
            key_media_type: Some("x/y+json; charset=UTF-8".into()),
            value_media_type: None,
            ..PingInfo::default()
        })
    );
    let v30 = ResponseContext {
        version: ProtocolVersion::V30,
        ..context(opcode::PING)
    };
    assert_eq!(
        decode_with("a1 03 18 00 00 010d00 010200 1e 02 0003 0017", &v30)
            .unwrap()
            .body,
        ResponseBody::Ping(PingInfo {
            key_media_type: Some("text/plain".into()),
            value_media_type: Some("application/json".into()),
            server_version: Some(30),
            operations: vec![0x03, 0x17],
        })
    );
    let v25 = ResponseContext {
        version: ProtocolVersion::V25,
        ..context(opcode::PING)
    };
    assert_eq!(
        decode_with("a1 03 18 00 00", &v25).unwrap().body,
        ResponseBody::Ping(PingInfo::default())
    );
    assert_eq!(
        decode(
            "a1 09 22 00 00 02 05 504c41494e 0d 534352414d2d5348412d323536",
            opcode::AUTH_MECH_LIST
        )
        .unwrap()
        .body,
        ResponseBody::AuthMechList(vec!["PLAIN".into(), "SCRAM-SHA-256".into()])
    );
    // Infinispan: complete without challenge, or a challenge with complete = 0.
    assert_eq!(
        decode("a1 0a 24 00 00 01 00", opcode::AUTH).unwrap().body,
        ResponseBody::Auth {
            complete: true,
            challenge: Vec::new()
        }
    );
    assert_eq!(
        decode("a1 0a 24 00 00 00 03 723d78", opcode::AUTH)
            .unwrap()
            .body,
        ResponseBody::Auth {
            complete: false,
            challenge: b"r=x".to_vec()
        }
    );
}

#[test]
fn error_responses() {
    // Unknown cache: parse error 0x84 with the server's message, for any request opcode.
    let r = decode("a1 05 50 84 00 0a 6e6f2073756368206361", opcode::GET).unwrap();
    assert_eq!(r.header.opcode, opcode::ERROR);
    assert_eq!(r.header.status, status::PARSE_ERROR);
    assert_eq!(
        r.body,
        ResponseBody::Error {
            message: "no such ca".into()
        }
    );
    let r = decode("a1 00 50 81 00 00", opcode::PUT).unwrap();
    assert_eq!(r.header.status, status::INVALID_MAGIC_OR_MESSAGE_ID);
    let r = decode("a1 02 50 85 00 01 78", opcode::AUTH).unwrap();
    assert_eq!(r.header.status, status::SERVER_ERROR);
}

#[test]
fn topology_updates() {
    // Intelligence 3, MurmurHash3, two members, two segments owned 0,1 / 1.
    let hex = "a1 05 04 00 01 \
               07 02 09 3132372e302e302e31 2b66 09 3132372e302e302e32 2b67 \
               03 02 02 00 01 01 01 \
               01 76";
    let r = decode(hex, opcode::GET).unwrap();
    assert_eq!(r.body, ResponseBody::Get(Some(b"v".to_vec())));
    assert_eq!(
        r.header.topology,
        Some(Topology {
            id: 7,
            servers: vec![("127.0.0.1".into(), 11110), ("127.0.0.2".into(), 11111)],
            hash: Some(HashTopology {
                function: 3,
                num_segments: 2,
                owners: vec![vec![0, 1], vec![1]],
            }),
        })
    );
    // Hash function 0 (e.g. an invalidation cache): the segment count but no owners.
    let r = decode(
        "a1 05 0c 00 01 08 01 09 3132372e302e302e31 2b66 00 80 02",
        opcode::REMOVE,
    )
    .unwrap();
    assert_eq!(
        r.header.topology.unwrap().hash,
        Some(HashTopology {
            function: 0,
            num_segments: 256,
            owners: Vec::new(),
        })
    );
    // Intelligence 2: members only.
    let aware = ResponseContext {
        intelligence: intelligence::TOPOLOGY_AWARE,
        ..context(opcode::CLEAR)
    };
    let r = decode_with("a1 05 14 00 01 02 01 01 68 2b66", &aware).unwrap();
    assert_eq!(
        r.header.topology,
        Some(Topology {
            id: 2,
            servers: vec![("h".into(), 11110)],
            hash: None,
        })
    );
}

fn malformed(hex: &str, request_opcode: u8) -> bool {
    matches!(
        decode_response(&unhex(hex), &context(request_opcode)),
        Err(DecodeError::Malformed(_))
    )
}

#[test]
fn hostile_responses_are_errors() {
    // Wrong magic, marker, opcode, completion flag, status.
    assert!(malformed("a0 05 04 00 00", opcode::GET));
    assert!(malformed("a1 05 04 00 02", opcode::GET));
    assert!(malformed("a1 05 02 00 00", opcode::GET));
    assert!(malformed("a1 05 24 00 00 02 00", opcode::AUTH));
    assert!(malformed("a1 05 04 01 00", opcode::GET));
    // A 4 GiB value, a million mechanisms, members or segments: rejected from the header.
    assert!(malformed("a1 05 04 00 00 ffffffff0f", opcode::GET));
    assert!(malformed("a1 05 22 00 00 80 80 40", opcode::AUTH_MECH_LIST));
    assert!(malformed("a1 05 04 00 01 01 80 80 40", opcode::GET));
    assert!(malformed("a1 05 04 00 01 01 00 03 80 80 40", opcode::GET));
    // An owner index outside the member list.
    assert!(malformed(
        "a1 05 04 00 01 01 01 01 68 0001 03 01 01 05",
        opcode::GET
    ));
    // A topology sent to a basic client.
    let basic = ResponseContext {
        intelligence: intelligence::BASIC,
        ..context(opcode::GET)
    };
    assert!(matches!(
        decode_response(&unhex("a1 05 04 00 01 01 00"), &basic),
        Err(DecodeError::Malformed(_))
    ));
}

#[test]
fn random_bytes_never_panic() {
    // A fixed-seed xorshift generator: reproducible garbage, with a valid prefix half the time.
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for round in 0..20_000 {
        let len = (next() % 48) as usize;
        let mut bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        if round % 2 == 0 && !bytes.is_empty() {
            bytes[0] = RESPONSE_MAGIC;
        }
        for op in [
            opcode::GET,
            opcode::PUT,
            opcode::REMOVE,
            opcode::CLEAR,
            opcode::PING,
            opcode::AUTH_MECH_LIST,
            opcode::AUTH,
        ] {
            let _ = decode_response(&bytes, &context(op));
        }
    }
}
