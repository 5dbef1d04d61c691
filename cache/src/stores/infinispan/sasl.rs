//! SASL client mechanisms for Hot Rod authentication: PLAIN (RFC 4616), SCRAM-SHA-1/256/384/512
//! (RFC 5802, RFC 7677), EXTERNAL (RFC 4422) and OAUTHBEARER (RFC 7628).
//!
//! The cryptography comes from RustCrypto (`sha1`, `sha2`, `hmac`, `pbkdf2`); this module only
//! builds and parses the SCRAM messages. DIGEST-MD5 (obsolete, RFC 6331) is not supported.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use sha2::Digest;

/// Highest SCRAM iteration count we accept from a server (a hostile server could otherwise
/// make us burn CPU for minutes). Infinispan's default is 4096.
pub const MAX_SCRAM_ITERATIONS: u32 = 1_000_000;

/// A SASL mechanism the client can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SaslMechanism {
    /// `PLAIN`: user name and password in clear (use TLS).
    Plain,
    /// `SCRAM-SHA-1`.
    ScramSha1,
    /// `SCRAM-SHA-256`.
    ScramSha256,
    /// `SCRAM-SHA-384`.
    ScramSha384,
    /// `SCRAM-SHA-512`.
    ScramSha512,
    /// `EXTERNAL`: the TLS client certificate authenticates.
    External,
    /// `OAUTHBEARER`: a bearer token.
    OAuthBearer,
}

impl SaslMechanism {
    /// The mechanism name on the wire.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            SaslMechanism::Plain => "PLAIN",
            SaslMechanism::ScramSha1 => "SCRAM-SHA-1",
            SaslMechanism::ScramSha256 => "SCRAM-SHA-256",
            SaslMechanism::ScramSha384 => "SCRAM-SHA-384",
            SaslMechanism::ScramSha512 => "SCRAM-SHA-512",
            SaslMechanism::External => "EXTERNAL",
            SaslMechanism::OAuthBearer => "OAUTHBEARER",
        }
    }

    /// Parses a mechanism name (case-sensitive, as on the wire).
    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "PLAIN" => SaslMechanism::Plain,
            "SCRAM-SHA-1" => SaslMechanism::ScramSha1,
            "SCRAM-SHA-256" => SaslMechanism::ScramSha256,
            "SCRAM-SHA-384" => SaslMechanism::ScramSha384,
            "SCRAM-SHA-512" => SaslMechanism::ScramSha512,
            "EXTERNAL" => SaslMechanism::External,
            "OAUTHBEARER" => SaslMechanism::OAuthBearer,
            _ => return None,
        })
    }

    /// The hash of a SCRAM mechanism.
    #[must_use]
    pub fn scram_hash(self) -> Option<ScramHash> {
        match self {
            SaslMechanism::ScramSha1 => Some(ScramHash::Sha1),
            SaslMechanism::ScramSha256 => Some(ScramHash::Sha256),
            SaslMechanism::ScramSha384 => Some(ScramHash::Sha384),
            SaslMechanism::ScramSha512 => Some(ScramHash::Sha512),
            _ => None,
        }
    }
}

impl fmt::Display for SaslMechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a SASL mechanism needs. `Debug` hides the password and the token.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    /// User name (PLAIN, SCRAM).
    pub user_name: String,
    /// Password (PLAIN, SCRAM).
    pub password: String,
    /// Bearer token (OAUTHBEARER).
    pub token: String,
    /// Authorization identity to act as (optional).
    pub authzid: Option<String>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("user_name", &self.user_name)
            .field("password", &"<redacted>")
            .field("token", &"<redacted>")
            .field("authzid", &self.authzid)
            .finish()
    }
}

/// The hash function of a SCRAM mechanism.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScramHash {
    /// SHA-1.
    Sha1,
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

fn hmac_with<M: Mac + KeyInit>(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC takes keys of any length, so this never fails; an empty result would only make
    // the proof wrong, never panic.
    match <M as KeyInit>::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(data);
            mac.finalize().into_bytes().to_vec()
        }
        Err(_) => Vec::new(),
    }
}

impl ScramHash {
    /// HMAC(key, data).
    #[must_use]
    pub fn hmac(self, key: &[u8], data: &[u8]) -> Vec<u8> {
        match self {
            ScramHash::Sha1 => hmac_with::<Hmac<sha1::Sha1>>(key, data),
            ScramHash::Sha256 => hmac_with::<Hmac<sha2::Sha256>>(key, data),
            ScramHash::Sha384 => hmac_with::<Hmac<sha2::Sha384>>(key, data),
            ScramHash::Sha512 => hmac_with::<Hmac<sha2::Sha512>>(key, data),
        }
    }

    /// H(data).
    #[must_use]
    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            ScramHash::Sha1 => sha1::Sha1::digest(data).to_vec(),
            ScramHash::Sha256 => sha2::Sha256::digest(data).to_vec(),
            ScramHash::Sha384 => sha2::Sha384::digest(data).to_vec(),
            ScramHash::Sha512 => sha2::Sha512::digest(data).to_vec(),
        }
    }

    /// SaltedPassword = Hi(password, salt, iterations) (PBKDF2 with HMAC of this hash).
    #[must_use]
    pub fn salted_password(self, password: &[u8], salt: &[u8], iterations: u32) -> Vec<u8> {
        match self {
            ScramHash::Sha1 => {
                let mut out = [0u8; 20];
                pbkdf2::pbkdf2_hmac::<sha1::Sha1>(password, salt, iterations, &mut out);
                out.to_vec()
            }
            ScramHash::Sha256 => {
                let mut out = [0u8; 32];
                pbkdf2::pbkdf2_hmac::<sha2::Sha256>(password, salt, iterations, &mut out);
                out.to_vec()
            }
            ScramHash::Sha384 => {
                let mut out = [0u8; 48];
                pbkdf2::pbkdf2_hmac::<sha2::Sha384>(password, salt, iterations, &mut out);
                out.to_vec()
            }
            ScramHash::Sha512 => {
                let mut out = [0u8; 64];
                pbkdf2::pbkdf2_hmac::<sha2::Sha512>(password, salt, iterations, &mut out);
                out.to_vec()
            }
        }
    }

    /// (ClientKey, ServerKey) from a salted password.
    #[must_use]
    pub fn keys(self, salted_password: &[u8]) -> (Vec<u8>, Vec<u8>) {
        (
            self.hmac(salted_password, b"Client Key"),
            self.hmac(salted_password, b"Server Key"),
        )
    }
}

/// Escapes a SCRAM user name (`,` → `=2C`, `=` → `=3D`).
#[must_use]
pub fn saslname(name: &str) -> String {
    name.replace('=', "=3D").replace(',', "=2C")
}

/// Parses `k=v,k=v` SCRAM attributes (values may contain `=`).
#[must_use]
pub fn scram_attributes(message: &str) -> Vec<(char, &str)> {
    message
        .split(',')
        .filter_map(|part| {
            let mut chars = part.chars();
            let key = chars.next()?;
            let rest = chars.as_str();
            rest.strip_prefix('=').map(|value| (key, value))
        })
        .collect()
}

fn attribute<'a>(attributes: &[(char, &'a str)], key: char) -> Option<&'a str> {
    attributes.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
}

/// What the client does after a server challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SaslStep {
    /// Send this response in another AUTH request.
    Respond(Vec<u8>),
    /// The exchange is complete on our side (for SCRAM: the server proved it knows the
    /// password); send nothing more.
    Done,
}

#[derive(Debug)]
enum ScramState {
    Initial,
    SentClientFirst,
    SentClientFinal { server_signature: Vec<u8> },
    Verified,
}

/// A client-side SASL exchange.
#[derive(Debug)]
pub struct SaslClient {
    mechanism: SaslMechanism,
    credentials: Credentials,
    client_nonce: String,
    client_first_bare: String,
    gs2_header: String,
    scram: ScramState,
}

impl SaslClient {
    /// Starts an exchange. `client_nonce` is only used by SCRAM (printable, no commas).
    #[must_use]
    pub fn new(mechanism: SaslMechanism, credentials: Credentials, client_nonce: String) -> Self {
        Self {
            mechanism,
            credentials,
            client_nonce,
            client_first_bare: String::new(),
            gs2_header: String::new(),
            scram: ScramState::Initial,
        }
    }

    /// A random SCRAM client nonce (24 random bytes, base64).
    ///
    /// # Errors
    ///
    /// When the operating system's random source fails.
    pub fn random_nonce() -> Result<String, String> {
        let mut bytes = [0u8; 24];
        getrandom::fill(&mut bytes).map_err(|e| format!("no random numbers for the nonce: {e}"))?;
        Ok(BASE64.encode(bytes))
    }

    /// The mechanism.
    #[must_use]
    pub fn mechanism(&self) -> SaslMechanism {
        self.mechanism
    }

    /// The first response, sent with the first AUTH request.
    pub fn initial_response(&mut self) -> Vec<u8> {
        let authzid = self.credentials.authzid.clone().unwrap_or_default();
        match self.mechanism {
            SaslMechanism::Plain => {
                let c = &self.credentials;
                format!("{authzid}\0{}\0{}", c.user_name, c.password).into_bytes()
            }
            SaslMechanism::External => authzid.into_bytes(),
            SaslMechanism::OAuthBearer => {
                let a = if authzid.is_empty() {
                    String::new()
                } else {
                    format!("a={}", saslname(&authzid))
                };
                format!("n,{a},\x01auth=Bearer {}\x01\x01", self.credentials.token).into_bytes()
            }
            SaslMechanism::ScramSha1
            | SaslMechanism::ScramSha256
            | SaslMechanism::ScramSha384
            | SaslMechanism::ScramSha512 => {
                self.gs2_header = if authzid.is_empty() {
                    "n,,".to_owned()
                } else {
                    format!("n,a={},", saslname(&authzid))
                };
                self.client_first_bare = format!(
                    "n={},r={}",
                    saslname(&self.credentials.user_name),
                    self.client_nonce
                );
                self.scram = ScramState::SentClientFirst;
                format!("{}{}", self.gs2_header, self.client_first_bare).into_bytes()
            }
        }
    }

    /// Handles a server challenge (sent with `complete = 0`).
    ///
    /// # Errors
    ///
    /// When the challenge is invalid or the server failed to prove itself (SCRAM).
    pub fn step(&mut self, challenge: &[u8]) -> Result<SaslStep, String> {
        let Some(hash) = self.mechanism.scram_hash() else {
            return match self.mechanism {
                // RFC 7628: on an error challenge the client sends a single %x01 and the
                // server answers with a failure.
                SaslMechanism::OAuthBearer => Ok(SaslStep::Respond(vec![0x01])),
                // These mechanisms have no further steps; a server that wants more gets an
                // empty response.
                _ => Ok(SaslStep::Respond(Vec::new())),
            };
        };
        let text = std::str::from_utf8(challenge)
            .map_err(|_| "SCRAM challenge is not UTF-8".to_owned())?;
        match std::mem::replace(&mut self.scram, ScramState::Verified) {
            ScramState::SentClientFirst => self.client_final(hash, text),
            ScramState::SentClientFinal { server_signature } => {
                let attributes = scram_attributes(text);
                if let Some(error) = attribute(&attributes, 'e') {
                    return Err(format!("server rejected the SCRAM proof: {error}"));
                }
                let verifier = attribute(&attributes, 'v')
                    .ok_or_else(|| "SCRAM server-final message has no verifier".to_owned())?;
                let verifier = BASE64
                    .decode(verifier)
                    .map_err(|_| "SCRAM server verifier is not base64".to_owned())?;
                if !constant_time_eq(&verifier, &server_signature) {
                    return Err(
                        "the server's SCRAM signature is wrong (it does not know the \
                                password)"
                            .to_owned(),
                    );
                }
                Ok(SaslStep::Done)
            }
            ScramState::Initial | ScramState::Verified => {
                Err("unexpected SCRAM challenge".to_owned())
            }
        }
    }

    /// Checks that the exchange may end now (the server said `complete = 1`).
    ///
    /// # Errors
    ///
    /// For SCRAM, when the server has not proved that it knows the password.
    pub fn check_complete(&self) -> Result<(), String> {
        match (&self.scram, self.mechanism.scram_hash()) {
            (_, None) | (ScramState::Verified, Some(_)) => Ok(()),
            _ => Err("server ended the SCRAM exchange without proving its identity".to_owned()),
        }
    }

    fn client_final(&mut self, hash: ScramHash, server_first: &str) -> Result<SaslStep, String> {
        let attributes = scram_attributes(server_first);
        if let Some(error) = attribute(&attributes, 'e') {
            return Err(format!("server rejected the SCRAM request: {error}"));
        }
        if attribute(&attributes, 'm').is_some() {
            return Err("server requires an unsupported SCRAM extension".to_owned());
        }
        let nonce = attribute(&attributes, 'r')
            .ok_or_else(|| "SCRAM server-first message has no nonce".to_owned())?;
        if !nonce.starts_with(&self.client_nonce) || nonce.len() <= self.client_nonce.len() {
            return Err("SCRAM server nonce does not extend the client nonce".to_owned());
        }
        let salt = attribute(&attributes, 's')
            .ok_or_else(|| "SCRAM server-first message has no salt".to_owned())?;
        let salt = BASE64
            .decode(salt)
            .map_err(|_| "SCRAM salt is not base64".to_owned())?;
        let iterations: u32 = attribute(&attributes, 'i')
            .and_then(|i| i.parse().ok())
            .ok_or_else(|| "SCRAM server-first message has no valid iteration count".to_owned())?;
        if iterations == 0 || iterations > MAX_SCRAM_ITERATIONS {
            return Err(format!(
                "SCRAM iteration count {iterations} is outside 1..={MAX_SCRAM_ITERATIONS}"
            ));
        }
        let salted = hash.salted_password(self.credentials.password.as_bytes(), &salt, iterations);
        let (client_key, server_key) = hash.keys(&salted);
        let stored_key = hash.digest(&client_key);
        let without_proof = format!("c={},r={nonce}", BASE64.encode(&self.gs2_header));
        let auth_message = format!("{},{server_first},{without_proof}", self.client_first_bare);
        let client_signature = hash.hmac(&stored_key, auth_message.as_bytes());
        let proof: Vec<u8> = client_key
            .iter()
            .zip(&client_signature)
            .map(|(a, b)| a ^ b)
            .collect();
        let server_signature = hash.hmac(&server_key, auth_message.as_bytes());
        self.scram = ScramState::SentClientFinal { server_signature };
        Ok(SaslStep::Respond(
            format!("{without_proof},p={}", BASE64.encode(proof)).into_bytes(),
        ))
    }
}

/// Compares two byte strings in time independent of where they differ.
#[must_use]
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds(user: &str, password: &str) -> Credentials {
        Credentials {
            user_name: user.to_owned(),
            password: password.to_owned(),
            ..Credentials::default()
        }
    }

    /// RFC 7677 section 3 test vector (SCRAM-SHA-256, user "user", password "pencil").
    #[test]
    fn scram_sha256_matches_rfc7677() {
        let mut client = SaslClient::new(
            SaslMechanism::ScramSha256,
            creds("user", "pencil"),
            "rOprNGfwEbeRWgbNEkqO".to_owned(),
        );
        assert_eq!(
            client.initial_response(),
            b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
        );
        let server_first = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
                            s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
        let SaslStep::Respond(client_final) = client.step(server_first.as_bytes()).unwrap() else {
            panic!("expected a client-final message");
        };
        assert_eq!(
            String::from_utf8(client_final).unwrap(),
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
             p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
        );
        assert!(client.check_complete().is_err());
        let server_final = b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";
        assert_eq!(client.step(server_final).unwrap(), SaslStep::Done);
        assert!(client.check_complete().is_ok());
    }

    /// RFC 5802 section 5 test vector (SCRAM-SHA-1).
    #[test]
    fn scram_sha1_matches_rfc5802() {
        let mut client = SaslClient::new(
            SaslMechanism::ScramSha1,
            creds("user", "pencil"),
            "fyko+d2lbbFgONRv9qkxdawL".to_owned(),
        );
        assert_eq!(
            client.initial_response(),
            b"n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL"
        );
        let server_first = "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096";
        let SaslStep::Respond(client_final) = client.step(server_first.as_bytes()).unwrap() else {
            panic!("expected a client-final message");
        };
        assert_eq!(
            String::from_utf8(client_final).unwrap(),
            "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts="
        );
        assert_eq!(
            client.step(b"v=rmF9pqV8S7suAoZWja4dJRkFsKQ=").unwrap(),
            SaslStep::Done
        );
    }

    #[test]
    fn scram_rejects_a_wrong_server_signature_and_bad_challenges() {
        let mut client = SaslClient::new(
            SaslMechanism::ScramSha256,
            creds("user", "pencil"),
            "abc".to_owned(),
        );
        client.initial_response();
        // Nonce that does not extend ours.
        assert!(client.step(b"r=xyz123,s=AAAA,i=4096").is_err());

        let mut client = SaslClient::new(
            SaslMechanism::ScramSha256,
            creds("user", "pencil"),
            "abc".to_owned(),
        );
        client.initial_response();
        assert!(client.step(b"r=abcdef,s=AAAA,i=99999999").is_err());

        let mut client = SaslClient::new(
            SaslMechanism::ScramSha256,
            creds("user", "pencil"),
            "abc".to_owned(),
        );
        client.initial_response();
        assert!(matches!(
            client.step(b"r=abcdef,s=AAAA,i=1").unwrap(),
            SaslStep::Respond(_)
        ));
        assert!(client.step(b"v=AAAA").is_err());
    }

    #[test]
    fn plain_external_and_oauthbearer_initial_responses() {
        let mut plain =
            SaslClient::new(SaslMechanism::Plain, creds("admin", "pass"), String::new());
        assert_eq!(plain.initial_response(), b"\0admin\0pass");
        let mut external = SaslClient::new(
            SaslMechanism::External,
            Credentials {
                authzid: Some("me".into()),
                ..Credentials::default()
            },
            String::new(),
        );
        assert_eq!(external.initial_response(), b"me");
        let mut bearer = SaslClient::new(
            SaslMechanism::OAuthBearer,
            Credentials {
                token: "T0K".into(),
                ..Credentials::default()
            },
            String::new(),
        );
        assert_eq!(bearer.initial_response(), b"n,,\x01auth=Bearer T0K\x01\x01");
    }

    #[test]
    fn usernames_are_escaped() {
        assert_eq!(saslname("a,b=c"), "a=2Cb=3Dc");
        let debug = format!("{:?}", creds("u", "secret"));
        assert!(!debug.contains("secret"));
    }
}
