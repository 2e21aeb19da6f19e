//! The gzip framing of ring files.
//!
//! Swift's v2 writer cuts its deflate stream at full flushes so a reader can
//! start a fresh inflater at any section, and ends the file with two
//! uncompressed (stored) blocks holding the index offsets at a fixed distance
//! from the end (31 bytes). This writer lays out the stream the same way:
//! each segment is compressed on its own and ends on a full flush, so every
//! recorded offset is a valid restart point for Swift's seeking reader.

use std::io::Read;

use flate2::{Compress, Compression, FlushCompress, Status};

use super::{format_err, RingError};

/// The gzip mtime Swift writes, so identical rings are identical bytes.
const GZIP_MTIME: u32 = 1_300_507_380;

/// Builds a gzip file out of stored and deflated segments.
pub(crate) struct RingGzWriter {
    out: Vec<u8>,
    crc: crc32fast::Hasher,
    uncompressed: u64,
}

impl RingGzWriter {
    /// Starts the file with a gzip header; `name` is recorded as the original
    /// file name as Python's gzip module does.
    pub(crate) fn new(name: Option<&str>) -> Self {
        let mut out = Vec::with_capacity(4096);
        let flags = if name.is_some() { 0x08 } else { 0 };
        out.extend_from_slice(&[0x1f, 0x8b, 8, flags]);
        out.extend_from_slice(&GZIP_MTIME.to_le_bytes());
        // XFL 2 = maximum compression, OS 255 = unknown, as Python writes.
        out.extend_from_slice(&[2, 255]);
        if let Some(n) = name {
            // The header name is latin-1 and NUL-terminated: keep it simple ASCII.
            out.extend(n.bytes().filter(|b| *b != 0 && b.is_ascii()));
            out.push(0);
        }
        RingGzWriter {
            out,
            crc: crc32fast::Hasher::new(),
            uncompressed: 0,
        }
    }

    /// Offset in the uncompressed stream.
    pub(crate) fn uncompressed_pos(&self) -> u64 {
        self.uncompressed
    }

    /// Offset in the file; always a flush boundary between segments.
    pub(crate) fn compressed_pos(&self) -> u64 {
        self.out.len() as u64
    }

    fn account(&mut self, data: &[u8]) {
        self.crc.update(data);
        self.uncompressed += data.len() as u64;
    }

    /// Writes `data` uncompressed followed by an empty stored block, which is
    /// what zlib emits for a level-0 write plus a full flush.
    pub(crate) fn write_stored(&mut self, data: &[u8]) {
        self.account(data);
        for chunk in data.chunks(u16::MAX as usize) {
            push_stored_block(&mut self.out, chunk, false);
        }
        push_stored_block(&mut self.out, &[], false);
    }

    /// Writes `data` compressed at the best level, ending on a full flush so
    /// a fresh inflater can start right after it.
    pub(crate) fn write_deflated(&mut self, data: &[u8]) -> Result<(), RingError> {
        if data.is_empty() {
            return Ok(());
        }
        self.account(data);
        let mut c = Compress::new(Compression::best(), false);
        let start = self.out.len();
        loop {
            let consumed = c.total_in() as usize;
            self.out.reserve(data.len() / 2 + 1024);
            let status = c
                .compress_vec(&data[consumed..], &mut self.out, FlushCompress::Full)
                .map_err(|e| RingError::Format(format!("deflate failed: {e}")))?;
            let done = c.total_in() as usize == data.len() && self.out.len() < self.out.capacity();
            if done || status == Status::StreamEnd {
                break;
            }
        }
        if !self.out[start..].ends_with(&[0, 0, 0xff, 0xff]) {
            return format_err("deflate did not end on a flush boundary");
        }
        Ok(())
    }

    /// Ends the deflate stream and appends the gzip trailer.
    pub(crate) fn finish(mut self) -> Vec<u8> {
        push_stored_block(&mut self.out, &[], true);
        let crc = self.crc.finalize();
        self.out.extend_from_slice(&crc.to_le_bytes());
        // ISIZE is the length modulo 2^32 by definition.
        self.out
            .extend_from_slice(&((self.uncompressed & 0xffff_ffff) as u32).to_le_bytes());
        self.out
    }
}

/// One byte-aligned stored block: header byte, LEN, NLEN, data.
fn push_stored_block(out: &mut Vec<u8>, data: &[u8], last: bool) {
    let len = data.len() as u16;
    out.push(u8::from(last));
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&(!len).to_le_bytes());
    out.extend_from_slice(data);
}

/// Inflates a whole gzip file, refusing more than `limit` bytes of output so
/// a hostile file cannot exhaust memory.
pub(crate) fn gunzip(bytes: &[u8], limit: u64) -> Result<Vec<u8>, RingError> {
    if bytes.len() < 2 || bytes[..2] != [0x1f, 0x8b] {
        if bytes.starts_with(b"R1NG") {
            return format_err("not gzip-compressed (ring files are gzip)");
        }
        return format_err("not a gzip file");
    }
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .take(limit + 1)
        .read_to_end(&mut out)
        .map_err(|e| RingError::Format(format!("gzip: {e}")))?;
    if out.len() as u64 > limit {
        return format_err(format!("uncompressed size exceeds {limit} bytes"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_round_trip_and_end_on_flush_boundaries() {
        let mut w = RingGzWriter::new(Some("object.ring"));
        w.write_stored(b"R1NG\x00\x02");
        let a: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let seg_start = w.compressed_pos() as usize;
        w.write_deflated(&a).unwrap();
        w.write_stored(&7u64.to_be_bytes());
        let out = w.finish();
        let back = gunzip(&out, 1 << 20).unwrap();
        assert_eq!(&back[..6], b"R1NG\x00\x02");
        assert_eq!(&back[6..6 + a.len()], &a[..]);
        assert_eq!(&back[6 + a.len()..], &7u64.to_be_bytes());
        // A fresh raw inflater can start at a segment boundary.
        let mut d = flate2::Decompress::new(false);
        let mut got = Vec::with_capacity(a.len() + 64);
        d.decompress_vec(&out[seg_start..], &mut got, flate2::FlushDecompress::Sync)
            .unwrap();
        assert_eq!(&got[..a.len()], &a[..]);
        // The last 31 bytes start with the stored block holding the value.
        let tail = &out[out.len() - 31..];
        assert_eq!(&tail[..5], &[0, 8, 0, 0xf7, 0xff]);
        assert_eq!(&tail[5..13], &7u64.to_be_bytes());
    }

    #[test]
    fn limit_is_enforced() {
        let mut w = RingGzWriter::new(None);
        w.write_deflated(&vec![0u8; 10_000]).unwrap();
        let out = w.finish();
        assert!(gunzip(&out, 9_999).is_err());
        assert_eq!(gunzip(&out, 10_000).unwrap().len(), 10_000);
        assert!(gunzip(b"R1NG", 10).is_err());
        assert!(gunzip(b"", 10).is_err());
    }
}
