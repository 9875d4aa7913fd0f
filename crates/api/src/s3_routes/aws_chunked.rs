//! Decoding aws-chunked bodies: `<hex size>[;chunk-signature=<sig>]\r\n<bytes>\r\n` chunks up
//! to a zero-size one, then trailing headers (`x-amz-checksum-crc32:<base64>\r\n`, the
//! trailer's signature) and an empty line. Chunk signatures are not checked: the gateway
//! accepts any credentials, so there is no key to check them with.

use bytes::{Buf as _, Bytes, BytesMut};
use futures_util::{Stream, StreamExt as _};
use http_body::Frame;
use std::io;

use super::Trailers;

/// Longest chunk header or trailer line accepted (AWS's signatures make them ~90 bytes).
const MAX_LINE: usize = 4096;
/// Most trailer bytes accepted.
const MAX_TRAILERS: usize = 16 * 1024;

/// Where the decoder is in the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Expecting a chunk's size line.
    Header,
    /// Inside a chunk's data, this many bytes left.
    Data(u64),
    /// Expecting the CRLF after a chunk's data.
    DataEnd,
    /// After the zero-size chunk: trailer lines until an empty line.
    Trailers,
    Done,
}

/// The pure decoder: bytes in, data and trailers out.
#[derive(Debug)]
pub struct Decoder {
    phase: Phase,
    trailers: Vec<(String, String)>,
    trailer_bytes: usize,
}

/// What one step of decoding found.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    Data(Bytes),
    /// More input is needed.
    NeedMore,
    Done,
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder {
            phase: Phase::Header,
            trailers: Vec::new(),
            trailer_bytes: 0,
        }
    }
}

fn malformed(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("malformed aws-chunked body: {what}"),
    )
}

impl Decoder {
    /// Decodes what `input` holds, consuming it.
    pub fn step(&mut self, input: &mut BytesMut) -> io::Result<Step> {
        loop {
            match self.phase {
                Phase::Done => return Ok(Step::Done),
                Phase::Header => {
                    let Some(line) = take_line(input)? else {
                        return Ok(Step::NeedMore);
                    };
                    let size = line.split(';').next().unwrap_or_default().trim();
                    let size = u64::from_str_radix(size, 16)
                        .map_err(|_| malformed("a chunk size is not hexadecimal"))?;
                    self.phase = if size == 0 {
                        Phase::Trailers
                    } else {
                        Phase::Data(size)
                    };
                }
                Phase::Data(left) => {
                    if input.is_empty() {
                        return Ok(Step::NeedMore);
                    }
                    let take = usize::try_from(left).unwrap_or(usize::MAX).min(input.len());
                    let data = input.split_to(take).freeze();
                    let left = left - take as u64;
                    self.phase = if left == 0 {
                        Phase::DataEnd
                    } else {
                        Phase::Data(left)
                    };
                    return Ok(Step::Data(data));
                }
                Phase::DataEnd => {
                    if input.len() < 2 {
                        return Ok(Step::NeedMore);
                    }
                    if &input[..2] != b"\r\n" {
                        return Err(malformed("a chunk is longer than its size"));
                    }
                    input.advance(2);
                    self.phase = Phase::Header;
                }
                Phase::Trailers => {
                    let Some(line) = take_line(input)? else {
                        return Ok(Step::NeedMore);
                    };
                    if line.is_empty() {
                        self.phase = Phase::Done;
                        continue;
                    }
                    self.trailer_bytes += line.len();
                    if self.trailer_bytes > MAX_TRAILERS {
                        return Err(malformed("the trailers are too long"));
                    }
                    let (name, value) = line
                        .split_once(':')
                        .ok_or_else(|| malformed("a trailer is not `name:value`"))?;
                    self.trailers
                        .push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
                }
            }
        }
    }

    /// The end of the input: fine after the zero-size chunk (the final empty line may be
    /// missing), a truncated body otherwise.
    pub fn finish(&mut self, rest: &[u8]) -> io::Result<Vec<(String, String)>> {
        match self.phase {
            Phase::Done => Ok(std::mem::take(&mut self.trailers)),
            Phase::Trailers if rest.is_empty() => Ok(std::mem::take(&mut self.trailers)),
            _ => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the aws-chunked body ended before its last chunk",
            )),
        }
    }
}

/// One CRLF-terminated line, if `input` holds a whole one.
fn take_line(input: &mut BytesMut) -> io::Result<Option<String>> {
    match input.windows(2).position(|w| w == b"\r\n") {
        Some(at) => {
            let line = input.split_to(at);
            input.advance(2);
            String::from_utf8(line.to_vec())
                .map(Some)
                .map_err(|_| malformed("a chunk header is not UTF-8"))
        }
        None if input.len() > MAX_LINE => Err(malformed("a chunk header is too long")),
        None => Ok(None),
    }
}

/// The decoded body of `input`; the trailers go to `trailers` once the body is read.
pub fn decode<S, E>(
    input: S,
    trailers: Trailers,
) -> http_body_util::StreamBody<impl Stream<Item = io::Result<Frame<Bytes>>> + Send + 'static>
where
    S: Stream<Item = Result<Bytes, E>> + Send + Unpin + 'static,
    E: std::fmt::Display,
{
    struct State<S> {
        input: S,
        buffer: BytesMut,
        decoder: Decoder,
        trailers: Trailers,
        ended: bool,
    }
    let state = State {
        input,
        buffer: BytesMut::new(),
        decoder: Decoder::default(),
        trailers,
        ended: false,
    };
    let stream = futures_util::stream::unfold(state, |mut state| async move {
        if state.ended {
            return None;
        }
        loop {
            match state.decoder.step(&mut state.buffer) {
                Ok(Step::Data(data)) => return Some((Ok(Frame::data(data)), state)),
                Ok(Step::Done) => {
                    state.ended = true;
                    let found = state.decoder.finish(&[]).unwrap_or_default();
                    *state
                        .trailers
                        .0
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(found);
                    return None;
                }
                Ok(Step::NeedMore) => {}
                Err(error) => {
                    state.ended = true;
                    return Some((Err(error), state));
                }
            }
            match state.input.next().await {
                Some(Ok(bytes)) => state.buffer.extend_from_slice(&bytes),
                Some(Err(error)) => {
                    state.ended = true;
                    return Some((Err(io::Error::other(error.to_string())), state));
                }
                None => {
                    state.ended = true;
                    return match state.decoder.finish(&state.buffer) {
                        Ok(found) => {
                            *state
                                .trailers
                                .0
                                .lock()
                                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(found);
                            None
                        }
                        Err(error) => Some((Err(error), state)),
                    };
                }
            }
        }
    });
    http_body_util::StreamBody::new(stream)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Decodes `body` fed in pieces of `piece` bytes.
    fn run(body: &[u8], piece: usize) -> io::Result<(Vec<u8>, super::super::Headers)> {
        let mut decoder = Decoder::default();
        let mut buffer = BytesMut::new();
        let mut out = Vec::new();
        for chunk in body.chunks(piece.max(1)) {
            buffer.extend_from_slice(chunk);
            loop {
                match decoder.step(&mut buffer)? {
                    Step::Data(d) => out.extend_from_slice(&d),
                    Step::NeedMore => break,
                    Step::Done => break,
                }
            }
        }
        let trailers = decoder.finish(&buffer)?;
        Ok((out, trailers))
    }

    #[test]
    fn unsigned_body_with_a_trailing_checksum() {
        let body = b"5\r\nhello\r\n6\r\n world\r\n0\r\nx-amz-checksum-crc32:DUoRhQ==\r\n\r\n";
        let (data, trailers) = run(body, 3).unwrap();
        assert_eq!(data, b"hello world");
        assert_eq!(
            trailers,
            [("x-amz-checksum-crc32".to_string(), "DUoRhQ==".to_string())]
        );
    }

    #[test]
    fn signed_chunks_and_the_trailer_signature() {
        let body = b"4;chunk-signature=ab12\r\ndata\r\n0;chunk-signature=cd34\r\nx-amz-checksum-crc64nvme:AAAAAAAAAAA=\r\nx-amz-trailer-signature:ef56\r\n\r\n";
        let (data, trailers) = run(body, 1).unwrap();
        assert_eq!(data, b"data");
        assert_eq!(trailers.len(), 2);
        // No trailers at all, and no final empty line, is fine too.
        assert_eq!(run(b"1\r\nx\r\n0\r\n", 64).unwrap().0, b"x");
    }

    #[test]
    fn truncated_and_malformed_bodies_are_errors() {
        for bad in [
            b"5\r\nhel".as_slice(),
            b"5\r\nhello".as_slice(),
            b"zz\r\nhello\r\n0\r\n\r\n".as_slice(),
            b"2\r\nhello\r\n0\r\n\r\n".as_slice(),
            b"0\r\nno colon here\r\n\r\n".as_slice(),
            b"".as_slice(),
        ] {
            assert!(run(bad, 4).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
        assert!(
            run(&vec![b'1'; MAX_LINE + 10], 64).is_err(),
            "an endless size line"
        );
    }

    proptest! {
        /// Any chunking of any data decodes back to the data, fed in any pieces.
        #[test]
        fn chunked_data_round_trips(
            data in proptest::collection::vec(any::<u8>(), 0..2000),
            chunk in 1usize..300,
            piece in 1usize..50,
        ) {
            let mut body = Vec::new();
            for part in data.chunks(chunk) {
                body.extend_from_slice(format!("{:x};chunk-signature=0\r\n", part.len()).as_bytes());
                body.extend_from_slice(part);
                body.extend_from_slice(b"\r\n");
            }
            body.extend_from_slice(b"0\r\nx-amz-checksum-sha256:abc=\r\n\r\n");
            let (out, trailers) = run(&body, piece).unwrap();
            prop_assert_eq!(out, data);
            prop_assert_eq!(trailers.len(), 1);
        }

        /// Arbitrary bytes never panic the decoder.
        #[test]
        fn arbitrary_input_never_panics(body in proptest::collection::vec(any::<u8>(), 0..500), piece in 1usize..20) {
            let _ = run(&body, piece);
        }
    }
}
