//! Keys derived from the server's secret (`WORKFORCE_SECRET_KEY`), one per purpose, so a digest
//! made for one use can never stand in for another.
//!
//! - API keys are long random secrets: the database keeps `HMAC-SHA256(api key subkey, secret)`
//!   and a presented key is checked with a constant-time comparison. Slow hashes are for
//!   passwords, which people choose; a random 192-bit secret needs none, and a keyed digest means
//!   a stolen table alone cannot even be checked against guesses.
//! - What the server writes to Redis and reads back (each recent-list entry) carries a tag, so an
//!   entry planted or altered by anyone without the secret is never served.
//! - Session cookies and invite tokens are stored only as keyed digests of their own kind, so the
//!   sessions table alone signs nobody in.
//! - Secrets the server must use again (a tool's header values) are sealed: XChaCha20-Poly1305
//!   under a key of their own, bound to whose secret it is, so the database alone reveals none
//!   and a sealed value copied to another row does not open.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// How a stored API-key digest starts (the older argon2id hashes start with `$argon2`).
pub const API_KEY_DIGEST_PREFIX: &str = "hmac-sha256:";

/// How a sealed secret starts: the cipher and the format's version.
pub const SEALED_PREFIX: &str = "xchacha20poly1305:";

pub struct ServerKeys {
    api_keys: [u8; 32],
    cache: [u8; 32],
    tokens: [u8; 32],
    sealing: [u8; 32],
}

impl std::fmt::Debug for ServerKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServerKeys([REDACTED])")
    }
}

fn mac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut m = <HmacSha256 as Mac>::new_from_slice(key).expect("HMAC takes a key of any length");
    for p in parts {
        // Length-prefixed, so ("ab", "c") and ("a", "bc") differ.
        m.update(&(p.len() as u64).to_be_bytes());
        m.update(p);
    }
    m.finalize().into_bytes().into()
}

impl ServerKeys {
    pub fn derive(secret: &SecretString) -> Self {
        let s = secret.expose_secret().as_bytes();
        ServerKeys {
            api_keys: mac(s, &[b"workforce api keys v1"]),
            cache: mac(s, &[b"workforce cache tags v1"]),
            tokens: mac(s, &[b"workforce session and invite tokens v1"]),
            sealing: mac(s, &[b"workforce sealed secrets v1"]),
        }
    }

    /// The stored form of an API key's secret: `hmac-sha256:<hex>`.
    pub fn api_key_digest(&self, secret: &str) -> String {
        format!(
            "{API_KEY_DIGEST_PREFIX}{}",
            hex::encode(mac(&self.api_keys, &[secret.as_bytes()]))
        )
    }

    /// Whether `secret` matches the stored digest, in time independent of where they differ.
    /// Always does the same work, whatever `stored` holds.
    pub fn api_key_matches(&self, secret: &str, stored: &str) -> bool {
        let presented = self.api_key_digest(secret);
        let a = presented.as_bytes();
        let b = stored.as_bytes();
        // Unequal lengths are unequal; compare against itself so the work stays the same.
        if a.len() != b.len() {
            let _ = a.ct_eq(a);
            return false;
        }
        bool::from(a.ct_eq(b))
    }

    /// The stored form of a bearer token of `kind` (`session`, `invite`): its keyed digest, hex.
    /// Looked up by equality in the database, so only the holder of the token finds the row.
    pub fn token_digest(&self, kind: &str, token: &str) -> String {
        hex::encode(mac(&self.tokens, &[kind.as_bytes(), token.as_bytes()]))
    }

    /// A tag over `parts` for something stored in Redis (16 bytes, hex).
    pub fn cache_tag(&self, parts: &[&[u8]]) -> String {
        hex::encode(&mac(&self.cache, parts)[..16])
    }

    /// `secret` sealed for storage, bound to `owner` (the parts that say whose it is: client,
    /// tool, header name): `xchacha20poly1305:<hex nonce><hex ciphertext and tag>`.
    pub fn seal(&self, owner: &[&[u8]], secret: &str) -> String {
        let cipher = XChaCha20Poly1305::new((&self.sealing).into());
        let nonce: [u8; 24] = rand::random();
        let aad = mac(&self.sealing, owner);
        let sealed = cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: secret.as_bytes(),
                    aad: &aad,
                },
            )
            .expect("sealing a message in memory cannot fail");
        format!(
            "{SEALED_PREFIX}{}{}",
            hex::encode(nonce),
            hex::encode(sealed)
        )
    }

    /// The secret `seal` sealed for the same `owner`, or `None` if it was sealed for another
    /// owner or under another server secret, or altered.
    pub fn open(&self, owner: &[&[u8]], sealed: &str) -> Option<SecretString> {
        let bytes = hex::decode(sealed.strip_prefix(SEALED_PREFIX)?).ok()?;
        if bytes.len() < 24 {
            return None;
        }
        let (nonce, body) = bytes.split_at(24);
        let cipher = XChaCha20Poly1305::new((&self.sealing).into());
        let aad = mac(&self.sealing, owner);
        let plain = cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: body,
                    aad: &aad,
                },
            )
            .ok()?;
        String::from_utf8(plain).ok().map(SecretString::from)
    }

    /// Whether `tag` is the tag of `parts`, in constant time.
    pub fn cache_tag_matches(&self, tag: &str, parts: &[&[u8]]) -> bool {
        let want = self.cache_tag(parts);
        want.len() == tag.len() && bool::from(want.as_bytes().ct_eq(tag.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(s: &str) -> ServerKeys {
        ServerKeys::derive(&s.to_owned().into())
    }

    #[test]
    fn an_api_key_digest_matches_only_its_secret_under_its_server_key() {
        let k = keys(&"a".repeat(32));
        let d = k.api_key_digest("secret-1");
        assert!(d.starts_with(API_KEY_DIGEST_PREFIX));
        assert!(k.api_key_matches("secret-1", &d));
        assert!(!k.api_key_matches("secret-2", &d));
        assert!(!k.api_key_matches("secret-1", "$argon2id$v=19$..."));
        assert!(!keys(&"b".repeat(32)).api_key_matches("secret-1", &d));
    }

    #[test]
    fn cache_tags_bind_every_part_and_their_boundaries() {
        let k = keys(&"a".repeat(32));
        let t = k.cache_tag(&[b"ab", b"c"]);
        assert!(k.cache_tag_matches(&t, &[b"ab", b"c"]));
        assert!(!k.cache_tag_matches(&t, &[b"a", b"bc"]));
        assert!(!k.cache_tag_matches(&t, &[b"ab", b"d"]));
        assert!(!keys(&"b".repeat(32)).cache_tag_matches(&t, &[b"ab", b"c"]));
        assert_eq!(format!("{k:?}"), "ServerKeys([REDACTED])");
    }

    #[test]
    fn a_sealed_secret_opens_only_for_its_owner_under_its_server_key() {
        let k = keys(&"a".repeat(32));
        let owner: [&[u8]; 3] = [b"client-a", b"tool-1", b"Authorization"];
        let sealed = k.seal(&owner, "Bearer s3cret");
        assert!(sealed.starts_with(SEALED_PREFIX));
        assert!(!sealed.contains("s3cret"));
        // A fresh nonce each time: the same secret never seals the same way twice.
        assert_ne!(sealed, k.seal(&owner, "Bearer s3cret"));
        let opened = k.open(&owner, &sealed).expect("opens for its owner");
        assert_eq!(opened.expose_secret(), "Bearer s3cret");
        // Another client's tool, another server secret, or one flipped character: nothing.
        assert!(k
            .open(&[b"client-b", b"tool-1", b"Authorization"], &sealed)
            .is_none());
        assert!(keys(&"b".repeat(32)).open(&owner, &sealed).is_none());
        let last = sealed.len() - 1;
        let flip = if sealed.ends_with('0') { "1" } else { "0" };
        let altered = format!("{}{flip}", &sealed[..last]);
        assert!(k.open(&owner, &altered).is_none());
        assert!(k.open(&owner, "xchacha20poly1305:00").is_none());
        assert!(k.open(&owner, "plain text").is_none());
    }
}
