//! JPEG header facts that forensic operators and the host both need:
//! quantization tables, chroma sampling and the IJG quality they correspond to.
//! Only marker segments are read; no pixel decoding happens here.

use crate::CodecError;

/// Zigzag position -> natural (row-major) index in an 8x8 block.
pub const ZIGZAG: [usize; 64] = [
    0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21,
    28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61,
    54, 47, 55, 62, 63,
];

/// The IJG (libjpeg, Pillow) base luminance table at quality 50, natural order.
pub const IJG_LUMA: [u16; 64] = [
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51,
    87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92, 49, 64, 78, 87, 103, 121, 120, 101,
    72, 92, 95, 98, 112, 100, 103, 99,
];

/// The IJG base chrominance table at quality 50, natural order.
pub const IJG_CHROMA: [u16; 64] = [
    17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99, 24, 26, 56, 99, 99, 99, 99, 99, 47, 66, 99, 99, 99,
    99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99,
    99, 99, 99, 99, 99, 99,
];

/// What the headers of a JPEG file say.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct JpegInfo {
    /// Quantization tables by slot id (0..=3), natural order.
    pub tables: Vec<(u8, [u16; 64])>,
    /// Per component: (component id, horizontal sampling, vertical sampling, table slot).
    pub components: Vec<(u8, u8, u8, u8)>,
    /// True for progressive JPEGs.
    pub progressive: bool,
}

impl JpegInfo {
    /// The table used by the first (luma) component.
    pub fn luma_table(&self) -> Option<&[u16; 64]> {
        let slot = self.components.first().map(|c| c.3).unwrap_or(0);
        self.tables.iter().find(|(id, _)| *id == slot).map(|(_, t)| t)
    }

    /// The table used by the second (chroma) component.
    pub fn chroma_table(&self) -> Option<&[u16; 64]> {
        let slot = self.components.get(1)?.3;
        self.tables.iter().find(|(id, _)| *id == slot).map(|(_, t)| t)
    }

    /// Chroma sampling as the usual name (`4:4:4`, `4:2:2`, `4:2:0`, `4:1:1`, `gray`).
    pub fn subsampling(&self) -> String {
        match self.components.as_slice() {
            [_] => "gray".into(),
            [(_, h0, v0, _), (_, h1, v1, _), ..] => match (h0 / h1.max(&1), v0 / v1.max(&1)) {
                (1, 1) => "4:4:4".into(),
                (2, 1) => "4:2:2".into(),
                (2, 2) => "4:2:0".into(),
                (4, 1) => "4:1:1".into(),
                (h, v) => format!("{h}x{v}"),
            },
            [] => "unknown".into(),
        }
    }

    /// The IJG quality (1..=100) whose luma table is closest to the file's, and the
    /// mean absolute difference to it (0 means an exact IJG table).
    pub fn estimate_quality(&self) -> Option<(u8, f32)> {
        let table = self.luma_table()?;
        (1..=100u8)
            .map(|q| {
                let t = ijg_table(&IJG_LUMA, q);
                let d: u32 = t.iter().zip(table).map(|(a, b)| (*a as i32 - *b as i32).unsigned_abs()).sum();
                (q, d as f32 / 64.0)
            })
            .min_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)))
    }
}

/// The IJG table for a quality, as libjpeg's `jpeg_quality_scaling` computes it.
pub fn ijg_table(base: &[u16; 64], quality: u8) -> [u16; 64] {
    let q = quality.clamp(1, 100) as u32;
    let scale = if q < 50 { 5000 / q } else { 200 - 2 * q };
    let mut out = [0u16; 64];
    for (o, b) in out.iter_mut().zip(base) {
        *o = ((*b as u32 * scale + 50) / 100).clamp(1, 255) as u16;
    }
    out
}

/// Reads the marker segments of a JPEG up to the first scan.
pub fn parse(bytes: &[u8]) -> Result<JpegInfo, CodecError> {
    if bytes.len() < 4 || bytes[0] != 0xFF || bytes[1] != 0xD8 {
        return Err(CodecError::Header("not a JPEG file (no SOI marker)".to_string()));
    }
    let mut info = JpegInfo::default();
    let mut i = 2;
    while i + 4 <= bytes.len() {
        if bytes[i] != 0xFF {
            return Err(CodecError::Header(format!("corrupt JPEG: expected a marker at byte {i}")));
        }
        let marker = bytes[i + 1];
        if marker == 0xFF {
            i += 1; // fill byte
            continue;
        }
        if marker == 0xD8 || (0xD0..=0xD7).contains(&marker) || marker == 0x01 {
            i += 2;
            continue;
        }
        let len = u16::from_be_bytes([bytes[i + 2], bytes[i + 3]]) as usize;
        let end = i + 2 + len;
        if len < 2 || end > bytes.len() {
            return Err(CodecError::Header(format!("corrupt JPEG: segment 0xFF{marker:02X} at byte {i} runs past the end")));
        }
        let seg = &bytes[i + 4..end];
        match marker {
            0xDB => parse_dqt(seg, &mut info)?,
            0xC0..=0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF => {
                info.progressive = matches!(marker, 0xC2 | 0xC6 | 0xCA | 0xCE);
                parse_sof(seg, &mut info)?;
            }
            0xDA | 0xD9 => break,
            _ => {}
        }
        i = end;
    }
    if info.tables.is_empty() {
        return Err(CodecError::Header("JPEG has no quantization table before the first scan".to_string()));
    }
    Ok(info)
}

fn parse_dqt(mut seg: &[u8], info: &mut JpegInfo) -> Result<(), CodecError> {
    while !seg.is_empty() {
        let (precision, id) = (seg[0] >> 4, seg[0] & 0x0F);
        let n = if precision == 0 { 64 } else { 128 };
        if seg.len() < 1 + n || id > 3 {
            return Err(CodecError::Header("corrupt JPEG: bad DQT segment".to_string()));
        }
        let mut t = [0u16; 64];
        for k in 0..64 {
            let v = if precision == 0 { seg[1 + k] as u16 } else { u16::from_be_bytes([seg[1 + 2 * k], seg[2 + 2 * k]]) };
            t[ZIGZAG[k]] = v;
        }
        info.tables.retain(|(i, _)| *i != id);
        info.tables.push((id, t));
        seg = &seg[1 + n..];
    }
    Ok(())
}

fn parse_sof(seg: &[u8], info: &mut JpegInfo) -> Result<(), CodecError> {
    if seg.len() < 6 {
        return Err(CodecError::Header("corrupt JPEG: short SOF segment".to_string()));
    }
    let n = seg[5] as usize;
    if seg.len() < 6 + 3 * n {
        return Err(CodecError::Header("corrupt JPEG: SOF lists more components than it holds".to_string()));
    }
    info.components = (0..n)
        .map(|c| {
            let b = &seg[6 + 3 * c..9 + 3 * c];
            (b[0], b[1] >> 4, b[1] & 0x0F, b[2])
        })
        .collect();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ijg_quality_50_is_the_base_table_and_100_is_all_ones() {
        assert_eq!(ijg_table(&IJG_LUMA, 50), IJG_LUMA);
        assert!(ijg_table(&IJG_LUMA, 100).iter().all(|&v| v == 1));
        // libjpeg at q=75: scale 50 -> 16*50/100 = 8, 11 -> 6 (5.5 rounds up).
        let t = ijg_table(&IJG_LUMA, 75);
        assert_eq!((t[0], t[1]), (8, 6));
    }

    #[test]
    fn rejects_non_jpeg_and_truncated_headers() {
        assert!(parse(b"\x89PNG....").is_err());
        assert!(parse(&[0xFF, 0xD8, 0xFF, 0xDB, 0x00, 0x43, 0x00]).is_err());
    }
}
