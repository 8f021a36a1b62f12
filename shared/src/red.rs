//! RFC 2198 redundant audio ("RED", `audio/red` over Opus as browsers negotiate it): the
//! payload format in which each RTP packet carries, besides its own Opus frame, copies of
//! the frames of one or two packets before it. The client's sender and receiver and the
//! server's relay all read and write it through this module, so the three agree byte for
//! byte.
//!
//! ```text
//! per redundant block, oldest first (4 bytes each):
//!   F=1 (1 bit) | block PT (7) | timestamp offset (14) | block length (10)
//! then the primary's header (1 byte):
//!   F=0 (1 bit) | primary PT (7)
//! then the redundant blocks' data in the same order, then the primary's data
//! ```
//!
//! A redundant block names no sequence number, only how far back its timestamp lies. For
//! Opus the packet duration is in every packet's first byte (RFC 6716 §3.1), so a block
//! whose offset is exactly k packet durations is the packet k sequence numbers back
//! ([`sequence_back`]); anything else (a block across a pause, a changed packet size) is
//! not placed rather than placed wrongly.

/// Redundant blocks one payload may hold. RFC 2198 sets no limit; we send at most two
/// (bursts of two lost packets are recovered from the third) and Chromium one. The bound
/// keeps the parse work of a hostile packet small.
pub const MAX_BLOCKS: usize = 4;

/// RFC 6716: no Opus packet is longer than 1275 bytes per frame; a 10-bit RED block length
/// allows 1023, which bounds what a redundant copy may be.
pub const MAX_BLOCK_BYTES: usize = 0x3ff;

const MAX_OFFSET: u32 = 0x3fff;
const F_BIT: u8 = 0x80;

/// One redundant copy inside a RED payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Block<'a> {
    /// The block's payload type (the primary's for every block we write).
    pub pt: u8,
    /// How many RTP timestamp units (48 kHz samples for Opus) before the primary's.
    pub timestamp_offset: u32,
    pub data: &'a [u8],
}

/// A parsed RED payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Red<'a> {
    pub primary_pt: u8,
    pub primary: &'a [u8],
    /// Oldest first.
    pub redundant: Vec<Block<'a>>,
}

/// Parses a RED payload. `None` for anything malformed (truncated, too many blocks, an
/// empty primary): a receiver then drops the packet, as it would a corrupt one.
pub fn parse(data: &[u8]) -> Option<Red<'_>> {
    let mut at = 0;
    let mut headers: Vec<(u8, u32, usize)> = Vec::new();
    loop {
        let first = *data.get(at)?;
        if first & F_BIT == 0 {
            at += 1;
            break;
        }
        if headers.len() == MAX_BLOCKS {
            return None;
        }
        let h = data.get(at..at + 4)?;
        let offset = (u32::from(h[1]) << 6) | (u32::from(h[2]) >> 2);
        let len = (usize::from(h[2] & 0x03) << 8) | usize::from(h[3]);
        headers.push((first & !F_BIT, offset, len));
        at += 4;
    }
    let primary_pt = data[at - 1] & !F_BIT;
    let mut redundant = Vec::with_capacity(headers.len());
    for (pt, timestamp_offset, len) in headers {
        let block = data.get(at..at + len)?;
        at += len;
        redundant.push(Block { pt, timestamp_offset, data: block });
    }
    let primary = data.get(at..)?;
    if primary.is_empty() {
        return None;
    }
    Some(Red { primary_pt, primary, redundant })
}

/// Writes a RED payload into `out` (cleared first). Blocks that cannot be expressed (an
/// offset beyond 14 bits, zero, or data longer than 10 bits, or empty) are left out rather
/// than failing: a copy is an optional extra. Returns how many blocks went in.
pub fn write(primary_pt: u8, primary: &[u8], redundant: &[Block<'_>], out: &mut Vec<u8>) -> usize {
    out.clear();
    let fits = |b: &&Block<'_>| {
        (1..=MAX_OFFSET).contains(&b.timestamp_offset)
            && !b.data.is_empty()
            && b.data.len() <= MAX_BLOCK_BYTES
    };
    let blocks: Vec<&Block<'_>> = redundant.iter().filter(fits).take(MAX_BLOCKS).collect();
    for b in &blocks {
        out.push(F_BIT | (b.pt & 0x7f));
        // Offset ≤ 14 bits and length ≤ 10 bits, checked above: the shifts cannot lose bits.
        #[allow(clippy::cast_possible_truncation)]
        {
            out.push((b.timestamp_offset >> 6) as u8);
            out.push(((b.timestamp_offset & 0x3f) << 2) as u8 | (b.data.len() >> 8) as u8);
            out.push((b.data.len() & 0xff) as u8);
        }
    }
    out.push(primary_pt & 0x7f);
    for b in &blocks {
        out.extend_from_slice(b.data);
    }
    out.extend_from_slice(primary);
    blocks.len()
}

/// The audio an Opus packet holds, in 48 kHz samples (RFC 6716 §3.1: the TOC byte's
/// configuration gives the frame size, its code the frame count). `None` for an empty or
/// malformed packet.
pub fn opus_samples(packet: &[u8]) -> Option<u32> {
    let toc = *packet.first()?;
    let config = toc >> 3;
    // Frame size in units of 2.5 ms (120 samples at 48 kHz).
    let quarter_ms_units: u32 = match config {
        0..=11 => [4, 8, 16, 24][usize::from(config % 4)],
        12..=15 => [4, 8][usize::from(config % 2)],
        _ => [1, 2, 4, 8][usize::from(config % 4)],
    };
    let frames = match toc & 0x03 {
        0 => 1,
        1 | 2 => 2,
        _ => u32::from(*packet.get(1)? & 0x3f),
    };
    let samples = quarter_ms_units * 120 * frames;
    // RFC 6716 §3.2.5: at most 120 ms per packet.
    (frames > 0 && samples <= 5760).then_some(samples)
}

/// Copies of earlier frames worth carrying at a loss rate in percent, for every sender of
/// RED here (the client for its way up, the relay for each listener's way down): none up to
/// 5 % (Opus's in-band FEC alone recovers nearly every single loss, and a clean network
/// never pays), one up to 14 % (about 1.7× the bitrate of plain Opus at 20 ms packets, so
/// 10 % loss stays under twice the clean bitrate), two above, where losses of two in a row
/// become common (about 2.4×).
pub fn copies_for_loss(percent: u8) -> usize {
    match percent {
        0..=5 => 0,
        6..=14 => 1,
        _ => 2,
    }
}

/// How many packets before the one carrying it a redundant Opus block is: its offset must
/// be a whole number (1 to [`MAX_BLOCKS`]) of its own packet duration. `None` when it is
/// not, e.g. a copy from before a pause in transmission.
pub fn sequence_back(block: &Block<'_>) -> Option<u16> {
    let samples = opus_samples(block.data)?;
    if block.timestamp_offset == 0 || !block.timestamp_offset.is_multiple_of(samples) {
        return None;
    }
    let back = block.timestamp_offset / samples;
    u16::try_from(back).ok().filter(|b| usize::from(*b) <= MAX_BLOCKS)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 20 ms CELT-only fullband Opus frame's TOC (config 31, one frame) plus data.
    fn opus_20ms(fill: u8, len: usize) -> Vec<u8> {
        let mut p = vec![fill; len];
        p[0] = 31 << 3;
        p
    }

    #[test]
    fn a_payload_round_trips_with_its_blocks_oldest_first() {
        let (a, b, c) = (opus_20ms(1, 40), opus_20ms(2, 50), opus_20ms(3, 60));
        let blocks = [
            Block { pt: 111, timestamp_offset: 1920, data: &a },
            Block { pt: 111, timestamp_offset: 960, data: &b },
        ];
        let mut out = Vec::new();
        assert_eq!(write(111, &c, &blocks, &mut out), 2);
        assert_eq!(out.len(), 4 * 2 + 1 + 40 + 50 + 60);
        let red = parse(&out).expect("parses");
        assert_eq!(red.primary_pt, 111);
        assert_eq!(red.primary, &c[..]);
        assert_eq!(red.redundant, blocks.to_vec());
        assert_eq!(
            red.redundant.iter().map(|b| sequence_back(b)).collect::<Vec<_>>(),
            [Some(2), Some(1)]
        );
    }

    #[test]
    fn the_rfc_2198_example_header_is_read_bit_for_bit() {
        // RFC 2198 §3's layout with one block: F=1, PT 111, offset 960 (0b00001111000000),
        // length 3; then F=0, PT 111.
        let bytes = [0x80 | 111, 0b0000_1111, 0b0000_0000, 3, 111, 0xaa, 0xbb, 0xcc, 0x01, 0x02];
        let red = parse(&bytes).expect("parses");
        assert_eq!(
            red.redundant,
            vec![Block { pt: 111, timestamp_offset: 960, data: &[0xaa, 0xbb, 0xcc] }]
        );
        assert_eq!(red.primary, &[0x01, 0x02]);
    }

    #[test]
    fn a_primary_alone_is_one_header_byte_longer() {
        let mut out = Vec::new();
        assert_eq!(write(111, &[9, 8, 7], &[], &mut out), 0);
        assert_eq!(out, [111, 9, 8, 7]);
        let red = parse(&out).expect("parses");
        assert!(red.redundant.is_empty());
    }

    #[test]
    fn blocks_that_cannot_be_expressed_are_left_out() {
        let big = vec![0u8; MAX_BLOCK_BYTES + 1];
        let ok = opus_20ms(1, 10);
        let blocks = [
            Block { pt: 111, timestamp_offset: 0, data: &ok },
            Block { pt: 111, timestamp_offset: MAX_OFFSET + 1, data: &ok },
            Block { pt: 111, timestamp_offset: 960, data: &big },
            Block { pt: 111, timestamp_offset: 960, data: &[] },
            Block { pt: 111, timestamp_offset: 960, data: &ok },
        ];
        let mut out = Vec::new();
        assert_eq!(write(111, &[1], &blocks, &mut out), 1);
        assert_eq!(parse(&out).expect("parses").redundant.len(), 1);
    }

    #[test]
    fn malformed_payloads_are_refused() {
        assert_eq!(parse(&[]), None);
        // Header only, no primary data.
        assert_eq!(parse(&[111]), None);
        // A block header cut short, and a block longer than the packet.
        assert_eq!(parse(&[0x80 | 111, 0, 0]), None);
        assert_eq!(parse(&[0x80 | 111, 0x0f, 0x00, 200, 111, 1]), None);
        // More blocks than allowed.
        let mut many = Vec::new();
        for _ in 0..=MAX_BLOCKS {
            many.extend_from_slice(&[0x80 | 111, 0x0f, 0x00, 0]);
        }
        many.extend_from_slice(&[111, 1]);
        assert_eq!(parse(&many), None);
    }

    #[test]
    fn opus_durations_come_from_the_toc_byte() {
        // SILK 20 ms (config 1), hybrid 10 ms (config 12), CELT 2.5 ms (config 16), each
        // one frame; CELT 20 ms with two frames (code 1) and with three (code 3).
        assert_eq!(opus_samples(&[1 << 3]), Some(960));
        assert_eq!(opus_samples(&[12 << 3]), Some(480));
        assert_eq!(opus_samples(&[16 << 3]), Some(120));
        assert_eq!(opus_samples(&[31 << 3 | 1]), Some(1920));
        assert_eq!(opus_samples(&[31 << 3 | 3, 3]), Some(2880));
        // Code 3 without its count byte, a zero count, or more than 120 ms.
        assert_eq!(opus_samples(&[31 << 3 | 3]), None);
        assert_eq!(opus_samples(&[31 << 3 | 3, 0]), None);
        assert_eq!(opus_samples(&[31 << 3 | 3, 7]), None);
        assert_eq!(opus_samples(&[]), None);
    }

    #[test]
    fn a_block_is_placed_only_at_a_whole_number_of_packets_back() {
        let p = opus_20ms(1, 10);
        let at = |timestamp_offset| sequence_back(&Block { pt: 111, timestamp_offset, data: &p });
        assert_eq!(at(960), Some(1));
        assert_eq!(at(1920), Some(2));
        // From before a pause, or from a packet of another duration: not placed.
        assert_eq!(at(1000), None);
        assert_eq!(at(960 * 40), None);
        assert_eq!(at(0), None);
    }
}
