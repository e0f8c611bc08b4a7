//! The AES-256-CBC layer: `random(16) || len (u32 BE) || msg || appid`, PKCS#7-padded to 32 bytes,
//! IV = the key's first 16 bytes, carried as standard base64.

use super::{AesKey, CryptoError, ct_eq};
use aes::Aes256;
use aes::cipher::consts::U16;
use aes::cipher::{Array, BlockModeDecrypt, BlockModeEncrypt, KeyIvInit};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// The largest ciphertext (decoded bytes) accepted or produced: far above any real push.
pub const MAX_CIPHERTEXT_LEN: usize = 64 * 1024;

/// WeChat pads to 32 bytes, not to the AES block size.
const PAD_BLOCK: usize = 32;
const AES_BLOCK: usize = 16;
const RANDOM_LEN: usize = 16;
const HEADER_LEN: usize = RANDOM_LEN + 4;

/// 16 random bytes for the front of a plaintext, from the thread-local CSPRNG.
pub fn random16() -> [u8; 16] {
    rand::random()
}

/// Encrypt `msg` for `appid` with the given random prefix; returns the base64 `Encrypt` value.
pub fn encrypt_message(
    key: &AesKey,
    appid: &str,
    random16: &[u8; 16],
    msg: &str,
) -> Result<String, CryptoError> {
    let unpadded = HEADER_LEN + msg.len() + appid.len();
    let pad = PAD_BLOCK - unpadded % PAD_BLOCK;
    let total = unpadded + pad;
    // The largest message that still decrypts on our side; the u32 length field fits far below it.
    let max_msg = MAX_CIPHERTEXT_LEN.saturating_sub(HEADER_LEN + appid.len() + 1);
    let msg_len = match u32::try_from(msg.len()) {
        Ok(n) if total <= MAX_CIPHERTEXT_LEN => n,
        _ => {
            return Err(CryptoError::MessageTooLarge {
                len: msg.len(),
                max: max_msg,
            });
        }
    };

    let mut buf = Vec::with_capacity(total);
    buf.extend_from_slice(random16);
    buf.extend_from_slice(&msg_len.to_be_bytes());
    buf.extend_from_slice(msg.as_bytes());
    buf.extend_from_slice(appid.as_bytes());
    // `pad` is 1..=32, so the cast is lossless.
    buf.resize(total, pad as u8);

    let (blocks, _rest) = Array::<u8, U16>::slice_as_chunks_mut(&mut buf);
    cbc::Encryptor::<Aes256>::new(key.bytes().into(), (&key.iv()).into()).encrypt_blocks(blocks);
    Ok(STANDARD.encode(&buf))
}

/// Decode and size-check a base64 `Encrypt` value. Key independent, so done once per message.
pub fn decode_ciphertext(encrypt: &str) -> Result<Vec<u8>, CryptoError> {
    let too_long = |len| CryptoError::Length {
        len,
        max: MAX_CIPHERTEXT_LEN,
    };
    // Refuse before allocating for a huge input: 4 base64 characters per 3 bytes.
    if encrypt.len() > MAX_CIPHERTEXT_LEN.div_ceil(3) * 4 {
        return Err(too_long(encrypt.len() / 4 * 3));
    }
    let bytes = STANDARD
        .decode(encrypt.as_bytes())
        .map_err(|_| CryptoError::Base64)?;
    if bytes.is_empty() || bytes.len() % AES_BLOCK != 0 || bytes.len() > MAX_CIPHERTEXT_LEN {
        return Err(too_long(bytes.len()));
    }
    Ok(bytes)
}

/// Decrypt a ciphertext from [`decode_ciphertext`] with one key and check its trailer.
pub fn decrypt_ciphertext(
    key: &AesKey,
    expected_appid: &str,
    ciphertext: &[u8],
) -> Result<String, CryptoError> {
    let mut buf = ciphertext.to_vec();
    let (blocks, rest) = Array::<u8, U16>::slice_as_chunks_mut(&mut buf);
    if blocks.is_empty() || !rest.is_empty() {
        return Err(CryptoError::Length {
            len: ciphertext.len(),
            max: MAX_CIPHERTEXT_LEN,
        });
    }
    cbc::Decryptor::<Aes256>::new(key.bytes().into(), (&key.iv()).into()).decrypt_blocks(blocks);
    let frame = strip_padding(&buf)?;
    open_frame(frame, expected_appid)
}

/// Decode, decrypt with one key and check: the whole path for a single key.
pub fn decrypt_message(
    key: &AesKey,
    expected_appid: &str,
    encrypt: &str,
) -> Result<String, CryptoError> {
    decrypt_ciphertext(key, expected_appid, &decode_ciphertext(encrypt)?)
}

/// Remove WeChat's PKCS#7 variant: pad value 1..=32, every pad byte equal to it.
fn strip_padding(buf: &[u8]) -> Result<&[u8], CryptoError> {
    let pad = usize::from(*buf.last().ok_or(CryptoError::Padding)?);
    if !(1..=PAD_BLOCK).contains(&pad) {
        return Err(CryptoError::Padding);
    }
    let keep = buf.len().checked_sub(pad).ok_or(CryptoError::Padding)?;
    let (frame, padding) = buf.split_at_checked(keep).ok_or(CryptoError::Padding)?;
    if padding.iter().any(|&b| usize::from(b) != pad) {
        return Err(CryptoError::Padding);
    }
    Ok(frame)
}

/// Split `random || len || msg || appid`, check the appid, then the UTF-8 of the message.
fn open_frame(frame: &[u8], expected_appid: &str) -> Result<String, CryptoError> {
    let (header, body) = frame
        .split_at_checked(HEADER_LEN)
        .ok_or(CryptoError::MessageLength)?;
    let len_bytes: [u8; 4] = header
        .get(RANDOM_LEN..)
        .and_then(|b| b.try_into().ok())
        .ok_or(CryptoError::MessageLength)?;
    let msg_len =
        usize::try_from(u32::from_be_bytes(len_bytes)).map_err(|_| CryptoError::MessageLength)?;
    let (msg, appid) = body
        .split_at_checked(msg_len)
        .ok_or(CryptoError::MessageLength)?;
    if !ct_eq(appid, expected_appid.as_bytes()) {
        return Err(CryptoError::AppId);
    }
    String::from_utf8(msg.to_vec()).map_err(|_| CryptoError::Utf8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_of_zero_or_over_32_or_with_mixed_bytes_is_refused() {
        assert_eq!(strip_padding(&[5, 0]), Err(CryptoError::Padding));
        assert_eq!(strip_padding(&[33; 48]), Err(CryptoError::Padding));
        assert_eq!(
            strip_padding(&[1, 2, 3, 3, 2, 3]),
            Err(CryptoError::Padding)
        );
        assert_eq!(strip_padding(&[3, 3]), Err(CryptoError::Padding));
        assert_eq!(strip_padding(&[]), Err(CryptoError::Padding));
        assert_eq!(strip_padding(&[9, 9, 2, 2]), Ok(&[9u8, 9][..]));
        assert_eq!(strip_padding(&[32; 32]), Ok(&[][..]));
    }

    #[test]
    fn a_message_length_past_the_frame_is_refused() {
        let mut frame = vec![0u8; 16];
        frame.extend_from_slice(&u32::MAX.to_be_bytes());
        frame.extend_from_slice(b"hiwx1");
        assert_eq!(open_frame(&frame, "wx1"), Err(CryptoError::MessageLength));
        assert_eq!(open_frame(&[0; 19], ""), Err(CryptoError::MessageLength));
    }

    #[test]
    fn a_frame_round_trips_through_the_cipher() {
        let key = AesKey::from_bytes([3; 32]);
        for msg in ["", "x", "你好", &"y".repeat(300)] {
            let enc = encrypt_message(&key, "wxapp", &[1; 16], msg).unwrap();
            assert_eq!(decrypt_message(&key, "wxapp", &enc).unwrap(), msg);
        }
    }
}
