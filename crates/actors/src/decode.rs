//! Response bodies as they arrive: `Content-Encoding` decoded by the fetcher itself, with a
//! cap on the decoded size, so that the response headers stay as received.

use std::io::{self, Write};

use brotli_decompressor::DecompressorWriter;
use bytes::{Bytes, BytesMut};
use flate2::write::{DeflateDecoder, GzDecoder, ZlibDecoder};

/// The codings the crawler asks for, in `Accept-Encoding`.
pub(crate) const ACCEPT_ENCODING: &str = "gzip, deflate, br";

/// Decoded bytes, cut at a cap. Writes past the cap are accepted and dropped, so that
/// decoders never fail because of the cap; `truncated` says it happened.
struct Capped {
    buf: BytesMut,
    max: usize,
    truncated: bool,
}

impl Write for Capped {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let room = self.max - self.buf.len();
        if data.len() > room {
            self.truncated = true;
        }
        self.buf.extend_from_slice(&data[..data.len().min(room)]);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

enum Decoder {
    Identity(Capped),
    Gzip(GzDecoder<Capped>),
    /// `deflate` is zlib-wrapped by the standard, raw in some servers: decided on the first
    /// bytes.
    Deflate(Option<Capped>),
    Zlib(ZlibDecoder<Capped>),
    RawDeflate(DeflateDecoder<Capped>),
    /// Boxed: the brotli state is large.
    Brotli(Box<DecompressorWriter<Capped>>),
}

/// Decodes one body, chunk by chunk.
pub(crate) struct BodyDecoder {
    decoder: Decoder,
    /// The bytes as received (still encoded), kept for archives when asked for.
    raw: Option<BytesMut>,
    /// The cap, on the decoded and on the kept raw bytes.
    max: usize,
}

/// A body read to its end, to the cap, or to an error.
pub(crate) struct Body {
    /// Decoded, at most the cap.
    pub decoded: Bytes,
    /// As received (content-encoded, de-chunked), when kept.
    pub raw: Option<Bytes>,
    /// Whether the decoded body was longer than the cap.
    pub truncated: bool,
}

impl BodyDecoder {
    /// A decoder for a `Content-Encoding` value, or an error naming a coding it does not
    /// support. `keep_raw` keeps the received bytes too (up to `max`).
    pub fn new(content_encoding: Option<&str>, max: usize, keep_raw: bool) -> Result<Self, String> {
        let out = Capped {
            buf: BytesMut::new(),
            max,
            truncated: false,
        };
        let coding = content_encoding.unwrap_or("").trim().to_ascii_lowercase();
        let decoder = match coding.as_str() {
            "" | "identity" => Decoder::Identity(out),
            "gzip" | "x-gzip" => Decoder::Gzip(GzDecoder::new(out)),
            "deflate" => Decoder::Deflate(Some(out)),
            "br" => Decoder::Brotli(Box::new(DecompressorWriter::new(out, 8 * 1024))),
            other => return Err(format!("unsupported Content-Encoding `{other}`")),
        };
        // Identity bodies are their own raw bytes: no second copy.
        let raw = (keep_raw && !matches!(decoder, Decoder::Identity(_))).then(BytesMut::new);
        Ok(Self { decoder, raw, max })
    }

    /// Makes room at once for a body that says its length (`Content-Length`), up to the
    /// cap, when it is not content-encoded: the buffer then never grows by doubling
    /// (which holds up to twice a large page, and copies it on the way).
    pub fn expect(&mut self, length: u64) {
        if let Decoder::Identity(out) = &mut self.decoder {
            let length = usize::try_from(length).unwrap_or(usize::MAX).min(self.max);
            out.buf.reserve(length.saturating_sub(out.buf.len()));
        }
    }

    fn output(&self) -> &Capped {
        match &self.decoder {
            Decoder::Identity(out) => out,
            Decoder::Gzip(d) => d.get_ref(),
            Decoder::Deflate(out) => out.as_ref().expect("decided before output is read"),
            Decoder::Zlib(d) => d.get_ref(),
            Decoder::RawDeflate(d) => d.get_ref(),
            Decoder::Brotli(d) => d.get_ref(),
        }
    }

    /// Whether the decoded body has reached the cap: reading can stop.
    pub fn is_full(&self) -> bool {
        self.output().truncated
    }

    /// Feeds received bytes.
    ///
    /// # Errors
    /// The decoder's message when the data is not valid for the coding.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<(), String> {
        if let Some(raw) = &mut self.raw {
            let room = self.max.saturating_sub(raw.len());
            raw.extend_from_slice(&chunk[..chunk.len().min(room)]);
        }
        if let Decoder::Deflate(out) = &mut self.decoder
            && let Some(out) = out.take()
        {
            // A zlib stream starts with CM = 8 and a header checksum divisible by 31.
            let zlib = chunk.len() >= 2
                && chunk[0] & 0x0f == 8
                && (u16::from(chunk[0]) << 8 | u16::from(chunk[1])) % 31 == 0;
            self.decoder = if zlib {
                Decoder::Zlib(ZlibDecoder::new(out))
            } else {
                Decoder::RawDeflate(DeflateDecoder::new(out))
            };
        }
        let written = match &mut self.decoder {
            Decoder::Identity(out) => out.write_all(chunk),
            Decoder::Gzip(d) => d.write_all(chunk),
            Decoder::Zlib(d) => d.write_all(chunk),
            Decoder::RawDeflate(d) => d.write_all(chunk),
            Decoder::Brotli(d) => d.write_all(chunk),
            Decoder::Deflate(_) => Ok(()),
        };
        written.map_err(|e| format!("cannot decode the body: {e}"))
    }

    /// Ends the body. A stream cut short is an error unless the cap was reached first.
    ///
    /// # Errors
    /// The decoder's message when the encoded stream is incomplete or invalid.
    pub fn finish(self) -> (Body, Option<String>) {
        let raw = self.raw.map(BytesMut::freeze);
        let stop = |e: io::Error| format!("cannot decode the body: {e}");
        let (out, error) = match self.decoder {
            Decoder::Identity(out) => (out, None),
            Decoder::Deflate(out) => (out.expect("not decided: empty body"), None),
            Decoder::Gzip(mut d) => {
                let error = d.try_finish().err().map(stop);
                (take(d.get_mut()), error)
            }
            Decoder::Zlib(mut d) => {
                let error = d.try_finish().err().map(stop);
                (take(d.get_mut()), error)
            }
            Decoder::RawDeflate(mut d) => {
                let error = d.try_finish().err().map(stop);
                (take(d.get_mut()), error)
            }
            Decoder::Brotli(d) => match (*d).into_inner() {
                Ok(out) => (out, None),
                Err(out) => (
                    out,
                    Some("cannot decode the body: the brotli stream is incomplete".into()),
                ),
            },
        };
        let error = if out.truncated { None } else { error };
        let body = Body {
            truncated: out.truncated,
            raw,
            decoded: out.buf.freeze(),
        };
        (body, error)
    }
}

/// Moves the output out of a decoder that is about to be dropped.
fn take(out: &mut Capped) -> Capped {
    Capped {
        buf: std::mem::take(&mut out.buf),
        max: out.max,
        truncated: out.truncated,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_said_length_is_room_made_at_once_up_to_the_cap() {
        let mut decoder = BodyDecoder::new(None, 1024, false).unwrap();
        decoder.expect(300);
        let room = decoder.output().buf.capacity();
        assert!((300..1024).contains(&room), "{room}");
        decoder.feed(&[b'x'; 300]).unwrap();
        assert_eq!(decoder.output().buf.capacity(), room, "no growth");
        // A length beyond the cap (or a lie) makes room for the cap at most.
        let mut lying = BodyDecoder::new(None, 1024, false).unwrap();
        lying.expect(u64::MAX);
        assert!(lying.output().buf.capacity() < 4096);
        lying.feed(b"short").unwrap();
        let (body, error) = lying.finish();
        assert_eq!((&body.decoded[..], error), (&b"short"[..], None));
    }

    const PAGE: &[u8] = b"<html><a href=\"/x\">x</a></html>";

    fn decode(coding: &str, data: &[u8], max: usize) -> (Body, Option<String>) {
        let mut decoder = BodyDecoder::new(Some(coding), max, true).unwrap();
        for chunk in data.chunks(7) {
            if decoder.feed(chunk).is_err() || decoder.is_full() {
                break;
            }
        }
        decoder.finish()
    }

    #[test]
    fn codings() {
        let gz = arachne_testkit::gzip(PAGE);
        let (body, error) = decode("gzip", &gz, 1 << 20);
        assert_eq!(
            (&body.decoded[..], error, body.truncated),
            (PAGE, None, false)
        );
        assert_eq!(body.raw.unwrap(), &gz[..], "the received bytes are kept");

        let mut zlib = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        zlib.write_all(PAGE).unwrap();
        assert_eq!(
            &decode("deflate", &zlib.finish().unwrap(), 1 << 20)
                .0
                .decoded[..],
            PAGE
        );

        let mut raw =
            flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        raw.write_all(PAGE).unwrap();
        assert_eq!(
            &decode("deflate", &raw.finish().unwrap(), 1 << 20).0.decoded[..],
            PAGE,
            "raw deflate too"
        );

        let br = arachne_testkit::brotli(PAGE);
        assert_eq!(&decode("br", &br, 1 << 20).0.decoded[..], PAGE);

        let (body, error) = decode("identity", PAGE, 1 << 20);
        assert_eq!((&body.decoded[..], error, body.raw), (PAGE, None, None));
    }

    #[test]
    fn cap_and_errors() {
        let bomb = arachne_testkit::gzip(&vec![b'a'; 1 << 20]);
        let (body, error) = decode("gzip", &bomb, 1000);
        assert_eq!(
            (body.decoded.len(), body.truncated, error),
            (1000, true, None)
        );

        let gz = arachne_testkit::gzip(PAGE);
        let (_, error) = decode("gzip", &gz[..gz.len() - 10], 1 << 20);
        assert!(error.is_some(), "a stream cut short is an error");
        let (_, error) = decode("gzip", b"definitely not gzip", 1 << 20);
        assert!(error.is_some());
        assert!(BodyDecoder::new(Some("zstd"), 10, false).is_err());
    }
}
