//! Known-answer tests from the RFCs (and libsrtp's packet test, which uses RFC 3711's
//! master key). The round trip against an independent receiver (str0m's) is in
//! `peer_egress_tests.rs`.

use super::*;

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

fn provider() -> CryptoProvider {
    str0m::crypto::from_feature_flags()
}

/// A context with the given session keys (the RFC's keystream and GCM vectors start
/// there, past the key derivation).
fn with_session_keys(profile: Profile, key: &[u8], salt: &[u8]) -> SrtpTx {
    let srtp = provider().srtp_provider;
    let cipher = match profile {
        Profile::AesCm128HmacSha1_80 => Cipher::Cm {
            aes: srtp.aes_128_cm_sha1_80().create_cipher(key.try_into().unwrap(), true),
            auth: HmacSha1::new_from_slice(&[0u8; 20]).unwrap(),
        },
        Profile::AeadAes128Gcm => {
            Cipher::Gcm128(srtp.aead_aes_128_gcm().create_cipher(key.try_into().unwrap(), true))
        }
        Profile::AeadAes256Gcm => {
            Cipher::Gcm256(srtp.aead_aes_256_gcm().create_cipher(key.try_into().unwrap(), true))
        }
    };
    let mut session_salt = [0u8; 14];
    session_salt[..salt.len()].copy_from_slice(salt);
    SrtpTx { profile, cipher, salt: session_salt }
}

#[test]
fn key_derivation_matches_rfc_3711_appendix_b3() {
    let key = hex("E1F97A0D3E018BE0D64FA32C06DE4139");
    let salt = hex("0EC675AD498AFEEBB6960B3AABE6");
    let p = provider();
    let mut cipher_key = [0u8; 16];
    derive(&p, &key, &salt, LABEL_RTP_ENCRYPTION, &mut cipher_key);
    assert_eq!(cipher_key.to_vec(), hex("C61E7A93744F39EE10734AFE3FF7A087"));
    let mut cipher_salt = [0u8; 14];
    derive(&p, &key, &salt, LABEL_RTP_SALT, &mut cipher_salt);
    assert_eq!(cipher_salt.to_vec(), hex("30CBBC08863D8C85D49DB34A9AE1"));
    let mut auth_key = [0u8; 20];
    derive(&p, &key, &salt, LABEL_RTP_AUTH, &mut auth_key);
    assert_eq!(auth_key.to_vec(), hex("CEBE321F6FF7716B6FD4AB49AF256A156D38BAA4"));
}

#[test]
fn aes_cm_keystream_matches_rfc_3711_appendix_b2() {
    let mut tx = with_session_keys(
        Profile::AesCm128HmacSha1_80,
        &hex("2B7E151628AED2A6ABF7158809CF4F3C"),
        &hex("F0F1F2F3F4F5F6F7F8F9FAFBFCFD"),
    );
    // SSRC 0, ROC 0, SEQ 0: the IV is the salt; a zero payload comes out as the keystream,
    // long enough to reach the appendix's last counters (0xFF01).
    let blocks = 0xFF02;
    let payload = vec![0u8; blocks * 16];
    let mut out = vec![0u8; 12 + payload.len() + 10];
    out[0] = 0x80;
    let len = tx.protect(&mut out, 12, &payload, 0, 0).unwrap();
    assert_eq!(len, out.len());
    let block = |i: usize| out[12 + i * 16..12 + (i + 1) * 16].to_vec();
    assert_eq!(block(0), hex("E03EAD0935C95E80E166B16DD92B4EB4"));
    assert_eq!(block(1), hex("D23513162B02D0F72A43A2FE4A5F97AB"));
    assert_eq!(block(2), hex("41E95B3BB0A2E8DD477901E4FCA894C0"));
    assert_eq!(block(0xFEFF), hex("EC8CDF7398607CB0F2D21675EA9EA1E4"));
    assert_eq!(block(0xFF00), hex("362B7C3C6773516318A077D7FC5073AE"));
    assert_eq!(block(0xFF01), hex("6A2CC3787889374FBEB4C81B17BA6C44"));
}

#[test]
fn aes_cm_hmac_sha1_80_packet_matches_libsrtp_known_answer() {
    // libsrtp's srtp_driver test: RFC 3711 B.3's master key and salt, SSRC 0xcafebabe,
    // sequence 0x1234, sixteen 0xab bytes of payload.
    let material = hex("E1F97A0D3E018BE0D64FA32C06DE4139 0EC675AD498AFEEBB6960B3AABE6");
    let mut tx =
        SrtpTx::new(&provider(), Profile::AesCm128HmacSha1_80, &material[..16], &material[16..])
            .unwrap();
    let header = hex("800f1234 decafbad cafebabe");
    let mut out = vec![0u8; 12 + 16 + 10];
    out[..12].copy_from_slice(&header);
    let len = tx.protect(&mut out, 12, &[0xab; 16], 0xcafebabe, 0x1234).unwrap();
    assert_eq!(
        out[..len].to_vec(),
        hex("800f1234decafbadcafebabe 4e55dc4ce79978d88ca4d215949d2402 b78d6acc99ea179b8dbb")
    );
}

#[test]
fn aead_aes_128_gcm_packet_matches_rfc_7714_section_16() {
    let mut tx = with_session_keys(
        Profile::AeadAes128Gcm,
        &hex("000102030405060708090a0b0c0d0e0f"),
        &hex("517569642070726f2071756f"),
    );
    let header = hex("8040f17b 8041f8d3 5501a0b2");
    let payload = hex(
        "47616c6c 69612065 7374206f 6d6e6973 20646976 69736120 696e2070 61727465 73207472 6573",
    );
    assert_eq!(gcm_iv(&tx.salt, 0x5501a0b2, 0, 0xf17b).to_vec(), hex("51753c6580c2726f20718414"));
    let mut out = vec![0u8; 12 + payload.len() + 16];
    out[..12].copy_from_slice(&header);
    let len = tx.protect(&mut out, 12, &payload, 0x5501a0b2, 0xf17b).unwrap();
    assert_eq!(
        out[..len].to_vec(),
        hex("8040f17b 8041f8d3 5501a0b2 f24de3a3 fb34de6c acba861c 9d7e4bca be633bd5 \
             0d294e6f 42a5f47a 51c7d19b 36de3adf 8833899d 7f27beb1 6a9152cf 765ee439 0cce")
    );
}

#[test]
fn the_rollover_counter_enters_the_nonce_and_the_tag() {
    let header = |seq: u16| {
        let mut h = hex("80000000 00000000 11223344");
        h[2..4].copy_from_slice(&seq.to_be_bytes());
        h
    };
    for profile in [Profile::AesCm128HmacSha1_80, Profile::AeadAes128Gcm] {
        let material = vec![7u8; 2 * (profile.key_len() + profile.salt_len())];
        let mut tx = SrtpTx::from_dtls(&provider(), profile, &material, true).unwrap();
        let protect = |tx: &mut SrtpTx, index: u64| {
            let mut out = vec![0u8; 12 + 20 + 16];
            out[..12].copy_from_slice(&header(index as u16));
            let len = tx.protect(&mut out, 12, &[1u8; 20], 0x11223344, index).unwrap();
            out.truncate(len);
            out
        };
        // Same header bytes, one rollover apart: a receiver that tracks the rollover
        // counter must see different ciphertext and tags, or the keystream repeats.
        let first = protect(&mut tx, 5);
        let wrapped = protect(&mut tx, (1 << 16) | 5);
        assert_eq!(first[..12], wrapped[..12]);
        assert_ne!(first[12..32], wrapped[12..32], "{profile:?} keystream");
        assert_ne!(first[32..], wrapped[32..], "{profile:?} tag");
    }
}

#[test]
fn each_side_sends_with_its_own_half_of_the_keying_material() {
    let profile = Profile::AeadAes128Gcm;
    // client key, server key, client salt, server salt
    let material: Vec<u8> = (0u8..56).collect();
    let protect = |mut tx: SrtpTx| {
        let mut out = vec![0u8; 12 + 4 + 16];
        out[..12].copy_from_slice(&hex("80000001 00000000 00000001"));
        tx.protect(&mut out, 12, &[9, 9, 9, 9], 1, 1).unwrap();
        out
    };
    let client = SrtpTx::new(&provider(), profile, &material[..16], &material[32..44]).unwrap();
    let server = SrtpTx::new(&provider(), profile, &material[16..32], &material[44..]).unwrap();
    let active = SrtpTx::from_dtls(&provider(), profile, &material, true).unwrap();
    let passive = SrtpTx::from_dtls(&provider(), profile, &material, false).unwrap();
    assert_eq!(protect(active), protect(client));
    assert_eq!(protect(passive), protect(server));
    assert_eq!(
        SrtpTx::from_dtls(&provider(), profile, &material[..50], true).unwrap_err(),
        SrtpError::KeyingMaterial(50)
    );
}

#[test]
fn a_buffer_without_room_for_the_tag_is_refused() {
    let mut tx = SrtpTx::from_dtls(&provider(), Profile::AeadAes128Gcm, &[3u8; 56], true).unwrap();
    let mut out = vec![0u8; 12 + 10 + 15];
    out[0] = 0x80;
    assert_eq!(tx.protect(&mut out, 12, &[0u8; 10], 1, 0), Err(SrtpError::BufferTooSmall));
}
