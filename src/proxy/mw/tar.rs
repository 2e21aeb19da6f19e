//! A streaming tar reader for bulk extraction: ustar and GNU headers, GNU
//! long names (`L`), pax extended headers (`x`: `path`, `size` and the
//! xattrs Swift turns into metadata), over a plain, gzip or bzip2 body.
//! Entries' data is read piece by piece; nothing is held whole, and each
//! decompression step produces at most one buffer.

use flate2::{Decompress, FlushDecompress, Status};

use crate::http::stream::BodySource;
use crate::http::BodyError;

/// Tar block size.
const BLOCK: usize = 512;
/// Largest GNU long name or pax header accepted.
const MAX_META: u64 = 1024 * 1024;
/// Decoded bytes produced per step.
const STEP: usize = 64 * 1024;

/// Why an archive could not be read.
#[derive(Debug, thiserror::Error)]
pub enum TarError {
    /// Not a valid archive (Swift reports "Invalid Tar File: <this>").
    #[error("{0}")]
    Invalid(String),
    /// The request body failed.
    #[error(transparent)]
    Body(#[from] BodyError),
}

fn invalid(msg: &str) -> TarError {
    TarError::Invalid(msg.to_string())
}

/// How the archive is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// Plain tar.
    None,
    /// gzip.
    Gzip,
    /// bzip2.
    Bzip2,
}

enum Codec {
    None,
    /// gzip: header not yet parsed, then raw deflate, then the trailer.
    GzHeader,
    Gz(Box<Decompress>, crc32fast::Hasher, u64),
    GzTrailer(u32, u64),
    Bz(Box<bzip2::Decompress>),
    Done,
}

/// One archive member.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Its path as stored (bytes; usually UTF-8).
    pub name: Vec<u8>,
    /// Data length.
    pub size: u64,
    /// The type flag (`b'0'` regular file, `b'5'` directory, ...).
    pub kind: u8,
    /// pax extended header records that came with it.
    pub pax: Vec<(String, String)>,
}

impl Entry {
    /// A regular file (tarfile's `isfile`).
    pub fn is_file(&self) -> bool {
        matches!(self.kind, b'0' | 0 | b'7')
    }
}

/// Reads an archive from a request body.
pub struct TarReader<'s, 'a, 'c> {
    src: &'s mut BodySource<'a, 'c>,
    codec: Codec,
    raw: Vec<u8>,
    raw_pos: usize,
    raw_eof: bool,
    buf: Vec<u8>,
    pos: usize,
    /// Data bytes of the current entry not yet read, then its padding.
    remaining: u64,
    padding: u64,
    finished: bool,
}

impl<'s, 'a, 'c> TarReader<'s, 'a, 'c> {
    /// The body the archive is read from (to answer on its connection
    /// while reading).
    pub fn source(&mut self) -> &mut BodySource<'a, 'c> {
        self.src
    }

    /// A reader of `src`.
    pub fn new(src: &'s mut BodySource<'a, 'c>, compression: Compression) -> Self {
        let codec = match compression {
            Compression::None => Codec::None,
            Compression::Gzip => Codec::GzHeader,
            Compression::Bzip2 => Codec::Bz(Box::new(bzip2::Decompress::new(false))),
        };
        TarReader {
            src,
            codec,
            raw: Vec::new(),
            raw_pos: 0,
            raw_eof: false,
            buf: Vec::new(),
            pos: 0,
            remaining: 0,
            padding: 0,
            finished: false,
        }
    }

    /// Reads more raw (compressed) bytes; `false` at the end of the body.
    async fn more_raw(&mut self) -> Result<bool, TarError> {
        if self.raw_eof {
            return Ok(false);
        }
        if self.raw_pos > 0 {
            self.raw.drain(..self.raw_pos);
            self.raw_pos = 0;
        }
        let mut chunk = Vec::with_capacity(STEP);
        let (res, b) = self.src.read(chunk).await;
        chunk = b;
        if res? == 0 {
            self.raw_eof = true;
            return Ok(false);
        }
        self.raw.extend_from_slice(&chunk);
        Ok(true)
    }

    /// Adds decoded bytes to `buf`; `false` at the end of the archive data.
    async fn fill(&mut self) -> Result<bool, TarError> {
        if self.pos > 0 && self.pos * 2 >= self.buf.len() {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        loop {
            if self.raw_pos == self.raw.len() && !matches!(self.codec, Codec::Done) {
                let got = self.more_raw().await?;
                if !got {
                    return match self.codec {
                        Codec::None => Ok(false),
                        _ => Err(invalid("unexpected end of data")),
                    };
                }
            }
            let input = &self.raw[self.raw_pos..];
            match &mut self.codec {
                Codec::Done => return Ok(false),
                Codec::None => {
                    self.buf.extend_from_slice(input);
                    self.raw_pos = self.raw.len();
                    return Ok(true);
                }
                Codec::GzHeader => match gzip_header_len(input) {
                    Ok(Some(n)) => {
                        self.raw_pos += n;
                        self.codec = Codec::Gz(
                            Box::new(Decompress::new(false)),
                            crc32fast::Hasher::new(),
                            0,
                        );
                    }
                    Ok(None) => {
                        if !self.more_raw().await? {
                            return Err(invalid("not a gzip file"));
                        }
                    }
                    Err(e) => return Err(e),
                },
                Codec::Gz(dec, crc, len) => {
                    let start = self.buf.len();
                    self.buf.resize(start + STEP, 0);
                    let (in0, out0) = (dec.total_in(), dec.total_out());
                    let status = dec
                        .decompress(input, &mut self.buf[start..], FlushDecompress::None)
                        .map_err(|e| {
                            TarError::Invalid(format!("Error -3 while decompressing data: {e}"))
                        })?;
                    let used = (dec.total_in() - in0) as usize;
                    let made = (dec.total_out() - out0) as usize;
                    self.buf.truncate(start + made);
                    crc.update(&self.buf[start..]);
                    *len += made as u64;
                    self.raw_pos += used;
                    if status == Status::StreamEnd {
                        let sum = std::mem::replace(crc, crc32fast::Hasher::new()).finalize();
                        self.codec = Codec::GzTrailer(sum, *len);
                    }
                    if made > 0 {
                        return Ok(true);
                    }
                    if used == 0 && status != Status::StreamEnd && !self.more_raw().await? {
                        return Err(invalid("unexpected end of data"));
                    }
                }
                Codec::GzTrailer(sum, len) => {
                    if input.len() < 8 {
                        if !self.more_raw().await? {
                            return Err(invalid("unexpected end of data"));
                        }
                        continue;
                    }
                    let crc = u32::from_le_bytes([input[0], input[1], input[2], input[3]]);
                    let size = u32::from_le_bytes([input[4], input[5], input[6], input[7]]);
                    if crc != *sum || size != (*len & 0xffff_ffff) as u32 {
                        return Err(invalid("CRC check failed"));
                    }
                    self.raw_pos += 8;
                    self.codec = Codec::Done;
                    return Ok(false);
                }
                Codec::Bz(dec) => {
                    let start = self.buf.len();
                    self.buf.resize(start + STEP, 0);
                    let (in0, out0) = (dec.total_in(), dec.total_out());
                    let status = dec
                        .decompress(input, &mut self.buf[start..])
                        .map_err(|e| TarError::Invalid(format!("bzip2: {e}")))?;
                    let used = (dec.total_in() - in0) as usize;
                    let made = (dec.total_out() - out0) as usize;
                    self.buf.truncate(start + made);
                    self.raw_pos += used;
                    if status == bzip2::Status::StreamEnd {
                        self.codec = Codec::Done;
                    }
                    if made > 0 {
                        return Ok(true);
                    }
                    if matches!(self.codec, Codec::Done) {
                        return Ok(false);
                    }
                    if used == 0 && !self.more_raw().await? {
                        return Err(invalid("unexpected end of data"));
                    }
                }
            }
        }
    }

    async fn want(&mut self, n: usize) -> Result<bool, TarError> {
        while self.buf.len() - self.pos < n {
            if !self.fill().await? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Discards `n` decoded bytes.
    async fn skip(&mut self, mut n: u64) -> Result<(), TarError> {
        while n > 0 {
            if self.pos == self.buf.len() && !self.fill().await? {
                return Err(invalid("unexpected end of data"));
            }
            let take = ((self.buf.len() - self.pos) as u64).min(n) as usize;
            self.pos += take;
            n -= take as u64;
        }
        Ok(())
    }

    async fn read_meta(&mut self, size: u64) -> Result<Vec<u8>, TarError> {
        if size > MAX_META {
            return Err(invalid("extended header too long"));
        }
        let padded = size.div_ceil(BLOCK as u64) * BLOCK as u64;
        if !self.want(padded as usize).await? {
            return Err(invalid("unexpected end of data"));
        }
        let data = self.buf[self.pos..self.pos + size as usize].to_vec();
        self.pos += padded as usize;
        Ok(data)
    }

    /// The next member, or `None` at the end of the archive. Data of the
    /// previous member that was not read is skipped.
    pub async fn next_entry(&mut self) -> Result<Option<Entry>, TarError> {
        if self.finished {
            return Ok(None);
        }
        let rest = self.remaining + self.padding;
        self.remaining = 0;
        self.padding = 0;
        self.skip(rest).await?;
        let mut long_name: Option<Vec<u8>> = None;
        let mut pax: Vec<(String, String)> = Vec::new();
        loop {
            if !self.want(BLOCK).await? {
                if self.buf.len() == self.pos {
                    self.finished = true;
                    return Ok(None);
                }
                return Err(invalid("unexpected end of data"));
            }
            let h: [u8; BLOCK] = self.buf[self.pos..self.pos + BLOCK]
                .try_into()
                .map_err(|_| invalid("short header"))?;
            self.pos += BLOCK;
            if h.iter().all(|&b| b == 0) {
                self.finished = true;
                return Ok(None);
            }
            check_checksum(&h)?;
            let mut size = parse_number(&h[124..136])?;
            let kind = h[156];
            match kind {
                b'L' => {
                    let mut n = self.read_meta(size).await?;
                    while n.last() == Some(&0) {
                        n.pop();
                    }
                    long_name = Some(n);
                    continue;
                }
                b'K' => {
                    self.read_meta(size).await?;
                    continue;
                }
                b'x' => {
                    let data = self.read_meta(size).await?;
                    pax = parse_pax(&data)?;
                    continue;
                }
                b'g' => {
                    self.read_meta(size).await?;
                    continue;
                }
                _ => {}
            }
            let mut name = cstr(&h[0..100]).to_vec();
            if &h[257..262] == b"ustar" {
                let prefix = cstr(&h[345..500]);
                if !prefix.is_empty() {
                    let mut full = prefix.to_vec();
                    full.push(b'/');
                    full.extend_from_slice(&name);
                    name = full;
                }
            }
            if let Some(n) = long_name.take() {
                name = n;
            }
            if let Some((_, p)) = pax.iter().find(|(k, _)| k == "path") {
                name = p.as_bytes().to_vec();
            }
            if let Some((_, s)) = pax.iter().find(|(k, _)| k == "size") {
                size = s.parse().map_err(|_| invalid("invalid pax size"))?;
            }
            // Only regular files carry data in the archive stream.
            let data = if matches!(kind, b'1' | b'2' | b'3' | b'4' | b'5' | b'6') {
                0
            } else {
                size
            };
            self.remaining = data;
            self.padding = data.div_ceil(BLOCK as u64) * BLOCK as u64 - data;
            return Ok(Some(Entry {
                name,
                size: data,
                kind,
                pax,
            }));
        }
    }

    /// Appends the current member's next bytes to `buf` (up to its spare
    /// capacity); `Ok(0)` at the end of its data.
    pub async fn read(&mut self, mut buf: Vec<u8>) -> (Result<usize, TarError>, Vec<u8>) {
        if self.remaining == 0 {
            return (Ok(0), buf);
        }
        if self.pos == self.buf.len() {
            match self.fill().await {
                Ok(true) => {}
                Ok(false) => return (Err(invalid("unexpected end of data")), buf),
                Err(e) => return (Err(e), buf),
            }
        }
        let spare = (buf.capacity() - buf.len()).max(1);
        let n = ((self.buf.len() - self.pos) as u64)
            .min(self.remaining)
            .min(spare as u64) as usize;
        buf.extend_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        self.remaining -= n as u64;
        (Ok(n), buf)
    }
}

/// Length of a complete gzip member header at the start of `b`; `None`
/// when more bytes are needed.
fn gzip_header_len(b: &[u8]) -> Result<Option<usize>, TarError> {
    if b.len() < 10 {
        return Ok(None);
    }
    if b[0] != 0x1f || b[1] != 0x8b || b[2] != 8 {
        return Err(invalid("not a gzip file"));
    }
    let flags = b[3];
    let mut at = 10;
    if flags & 4 != 0 {
        if b.len() < at + 2 {
            return Ok(None);
        }
        at += 2 + u16::from_le_bytes([b[at], b[at + 1]]) as usize;
    }
    for bit in [8u8, 16] {
        if flags & bit != 0 {
            match b.get(at..).and_then(|r| r.iter().position(|&c| c == 0)) {
                Some(i) => at += i + 1,
                None => return Ok(None),
            }
        }
    }
    if flags & 2 != 0 {
        at += 2;
    }
    Ok(if b.len() >= at { Some(at) } else { None })
}

fn cstr(b: &[u8]) -> &[u8] {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    &b[..end]
}

/// An octal field, or GNU base-256 when the high bit is set.
fn parse_number(f: &[u8]) -> Result<u64, TarError> {
    if f[0] & 0x80 != 0 {
        let mut v: u64 = (f[0] & 0x7f) as u64;
        for &b in &f[1..] {
            v = v
                .checked_mul(256)
                .and_then(|v| v.checked_add(b as u64))
                .ok_or_else(|| invalid("invalid header"))?;
        }
        return Ok(v);
    }
    let s = std::str::from_utf8(cstr(f)).map_err(|_| invalid("invalid header"))?;
    let s = s.trim_matches(|c: char| c == ' ' || c == '\0');
    if s.is_empty() {
        return Ok(0);
    }
    u64::from_str_radix(s, 8).map_err(|_| invalid("invalid header"))
}

fn check_checksum(h: &[u8; BLOCK]) -> Result<(), TarError> {
    let stored = parse_number(&h[148..156])?;
    let sum: u64 = h
        .iter()
        .enumerate()
        .map(|(i, &b)| {
            if (148..156).contains(&i) {
                32
            } else {
                b as u64
            }
        })
        .sum();
    // Some writers summed signed bytes.
    let signed: i64 = h
        .iter()
        .enumerate()
        .map(|(i, &b)| {
            if (148..156).contains(&i) {
                32
            } else {
                b as i8 as i64
            }
        })
        .sum();
    if stored == sum || stored as i64 == signed {
        Ok(())
    } else {
        Err(invalid("invalid header"))
    }
}

/// pax records: `<len> <key>=<value>\n`.
fn parse_pax(mut data: &[u8]) -> Result<Vec<(String, String)>, TarError> {
    let mut out = Vec::new();
    while !data.is_empty() {
        let sp = data
            .iter()
            .position(|&c| c == b' ')
            .ok_or_else(|| invalid("invalid pax header"))?;
        let len: usize = std::str::from_utf8(&data[..sp])
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| invalid("invalid pax header"))?;
        if len <= sp + 1 || len > data.len() {
            return Err(invalid("invalid pax header"));
        }
        let rec = &data[sp + 1..len];
        let rec = rec.strip_suffix(b"\n").unwrap_or(rec);
        let eq = rec
            .iter()
            .position(|&c| c == b'=')
            .ok_or_else(|| invalid("invalid pax header"))?;
        out.push((
            String::from_utf8_lossy(&rec[..eq]).into_owned(),
            String::from_utf8_lossy(&rec[eq + 1..]).into_owned(),
        ));
        data = &data[len..];
    }
    Ok(out)
}

/// The object header a pax xattr becomes (Swift's
/// `pax_key_to_swift_header`): `user.mime_type` is the Content-Type,
/// `user.meta.*` user metadata.
pub fn pax_header(key: &str) -> Option<String> {
    for p in ["SCHILY.xattr.user.", "LIBARCHIVE.xattr.user."] {
        if let Some(rest) = key.strip_prefix(p) {
            if rest == "mime_type" {
                return Some("Content-Type".into());
            }
            if let Some(m) = rest.strip_prefix("meta.") {
                return Some(format!("X-Object-Meta-{m}"));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(name: &str, size: usize, kind: u8) -> Vec<u8> {
        let mut h = vec![0u8; BLOCK];
        h[..name.len()].copy_from_slice(name.as_bytes());
        h[100..108].copy_from_slice(b"0000644\0");
        h[124..136].copy_from_slice(format!("{size:011o}\0").as_bytes());
        h[156] = kind;
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        h[148..156].copy_from_slice(b"        ");
        let sum: u32 = h.iter().map(|&b| b as u32).sum();
        h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        h
    }

    fn member(out: &mut Vec<u8>, name: &str, data: &[u8], kind: u8) {
        out.extend(header(name, data.len(), kind));
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(BLOCK) * BLOCK, 0);
    }

    fn sample() -> Vec<u8> {
        let mut t = Vec::new();
        member(&mut t, "c/a.txt", b"hello", b'0');
        let long = format!("c/{}", "n".repeat(150));
        let mut gnu = long.as_bytes().to_vec();
        gnu.push(0);
        member(&mut t, "././@LongLink", &gnu, b'L');
        member(&mut t, "short", b"long-named", b'0');
        let rec = "path=c/pax.bin";
        let line = format!("{} {rec}\n", rec.len() + 4);
        let meta = "SCHILY.xattr.user.meta.color=blue";
        let line2 = format!("{} {meta}\n", meta.len() + 4);
        member(
            &mut t,
            "PaxHeader",
            format!("{line}{line2}").as_bytes(),
            b'x',
        );
        member(&mut t, "ignored", &[7u8; 700], b'0');
        member(&mut t, "c/dir", b"", b'5');
        t.extend(vec![0u8; BLOCK * 2]);
        t
    }

    async fn entries(body: Vec<u8>, c: Compression) -> Result<Listed, TarError> {
        let mut src = BodySource::bytes(body);
        let mut r = TarReader::new(&mut src, c);
        let mut out = Vec::new();
        while let Some(e) = r.next_entry().await? {
            let mut data = Vec::new();
            loop {
                let (res, b) = r.read(Vec::with_capacity(100)).await;
                if res? == 0 {
                    break;
                }
                data.extend_from_slice(&b);
            }
            out.push((String::from_utf8_lossy(&e.name).into_owned(), data, e.pax));
        }
        Ok(out)
    }

    fn run<T>(f: impl std::future::Future<Output = T>) -> T {
        monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
            .build()
            .expect("rt")
            .block_on(f)
    }

    type Listed = Vec<(String, Vec<u8>, Vec<(String, String)>)>;

    fn check(got: Listed) {
        assert_eq!(got.len(), 4);
        assert_eq!(
            (got[0].0.as_str(), got[0].1.as_slice()),
            ("c/a.txt", b"hello".as_slice())
        );
        assert_eq!(got[1].0, format!("c/{}", "n".repeat(150)));
        assert_eq!(got[1].1, b"long-named");
        assert_eq!(got[2].0, "c/pax.bin");
        assert_eq!(got[2].1, vec![7u8; 700]);
        assert_eq!(
            pax_header(&got[2].2[1].0).as_deref(),
            Some("X-Object-Meta-color")
        );
        assert_eq!(got[3].0, "c/dir");
    }

    #[test]
    fn plain_gzip_and_bzip2_archives() {
        use std::io::Write;
        let tar = sample();
        check(run(entries(tar.clone(), Compression::None)).expect("plain"));
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&tar).expect("gz");
        let gz = gz.finish().expect("gz");
        check(run(entries(gz.clone(), Compression::Gzip)).expect("gzip"));
        let mut bz = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
        bz.write_all(&tar).expect("bz");
        check(run(entries(bz.finish().expect("bz"), Compression::Bzip2)).expect("bzip2"));
        // Corruption is an error, never a panic.
        let mut bad = gz;
        let mid = bad.len() / 2;
        bad[mid] ^= 0xff;
        assert!(run(entries(bad, Compression::Gzip)).is_err());
        assert!(run(entries(b"not a tar at all".repeat(40), Compression::None)).is_err());
        assert!(run(entries(tar[..700].to_vec(), Compression::None)).is_err());
    }
}
