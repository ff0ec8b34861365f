//! A borrowed RGB8 image with the helpers nearly every operator needs.

use crate::abi::AbiImage;
use crate::author::MapRole;

/// A set of [`MapRole`]s: which maps the caller of an operator will read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MapRoles(u8);

impl MapRoles {
    /// Every role: what a caller that shows or saves everything asks for.
    pub const ALL: Self = Self(0b111);

    /// Exactly `roles`.
    pub fn of(roles: &[MapRole]) -> Self {
        Self(roles.iter().fold(0, |bits, r| bits | Self::bit(*r)))
    }

    /// Whether `role` is in the set.
    pub fn contains(self, role: MapRole) -> bool {
        self.0 & Self::bit(role) != 0
    }

    /// The ABI bit set ([`AbiImage::wanted_roles`]).
    pub fn bits(self) -> u8 {
        self.0
    }

    /// From the ABI bit set; unknown bits are dropped.
    pub fn from_bits(bits: u8) -> Self {
        Self(bits & Self::ALL.0)
    }

    /// `1 << role`, the rule [`AbiImage::wanted_roles`] documents.
    fn bit(role: MapRole) -> u8 {
        1 << crate::abi::AbiMapRole::from(role) as u8
    }
}

impl Default for MapRoles {
    fn default() -> Self {
        Self::ALL
    }
}

/// A borrowed interleaved RGB8 image, as an operator receives it.
#[derive(Clone, Copy, Debug)]
pub struct ImageRef<'a> {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// `width * height * 3` bytes, row-major RGB.
    pub rgb: &'a [u8],
    /// The untouched source file when the image is one, else `None`.
    pub encoded: Option<&'a [u8]>,
    /// Format of `encoded` (`"jpeg"`, `"png"`, ...).
    pub format: Option<&'a str>,
    /// The map roles the caller will read; see [`ImageRef::wants`].
    pub wanted: MapRoles,
}

impl<'a> ImageRef<'a> {
    /// Wraps a raw RGB buffer with no source file.
    ///
    /// Returns `None` when the buffer length does not match the size.
    pub fn from_rgb(width: usize, height: usize, rgb: &'a [u8]) -> Option<Self> {
        (width.checked_mul(height)?.checked_mul(3)? == rgb.len()).then_some(Self {
            width,
            height,
            rgb,
            encoded: None,
            format: None,
            wanted: MapRoles::ALL,
        })
    }

    /// Whether the caller reads maps of `role`. An operator may skip building a
    /// map the caller does not read, and the pass that renders it: a 12 MP visual
    /// is a 12 MB buffer the kernel zeroes page by page, plus a pass over the
    /// response (see [`Map::visual_for`](crate::Map::visual_for)).
    pub fn wants(&self, role: MapRole) -> bool {
        self.wanted.contains(role)
    }

    /// The same image for a caller that reads only maps of the roles in `wanted`.
    pub fn wanting(self, wanted: MapRoles) -> Self {
        Self { wanted, ..self }
    }

    /// Number of pixels.
    pub fn pixels(&self) -> usize {
        self.width * self.height
    }

    /// ITU-R BT.601 luma (the JPEG/PIL `convert("L")` weights) as `f32` in 0..=255.
    pub fn luma(&self) -> Vec<f32> {
        self.rgb
            .chunks_exact(3)
            .map(|p| 0.299 * p[0] as f32 + 0.587 * p[1] as f32 + 0.114 * p[2] as f32)
            .collect()
    }

    /// One colour channel (0 = R, 1 = G, 2 = B) as `f32`.
    pub fn channel(&self, c: usize) -> Vec<f32> {
        self.rgb.chunks_exact(3).map(|p| p[c] as f32).collect()
    }

    /// True when the source file is a JPEG.
    pub fn is_jpeg(&self) -> bool {
        self.format == Some("jpeg") && self.encoded.is_some()
    }

    /// Checks and wraps what crossed the boundary (the buffer length must match
    /// the size); what the [`export_plugin!`](crate::export_plugin) trampoline
    /// calls, and what a plugin that writes its own entry points (the ONNX one)
    /// calls too.
    pub fn from_abi(img: &AbiImage<'a>) -> Result<Self, String> {
        let (w, h) = (img.width as usize, img.height as usize);
        let rgb = img.rgb.as_slice();
        if w.checked_mul(h).and_then(|n| n.checked_mul(3)) != Some(rgb.len()) {
            return Err(format!(
                "image buffer has {} bytes, expected {w}x{h}x3",
                rgb.len()
            ));
        }
        let encoded = img.encoded.as_slice();
        let format = img.format.as_str();
        Ok(Self {
            width: w,
            height: h,
            rgb,
            encoded: (!encoded.is_empty()).then_some(encoded),
            format: (!format.is_empty()).then_some(format),
            wanted: MapRoles::from_bits(img.wanted_roles),
        })
    }

    /// Builds the ABI view of this image (host side).
    pub fn to_abi(&self) -> AbiImage<'a> {
        AbiImage {
            width: self.width as u32,
            height: self.height as u32,
            rgb: self.rgb.into(),
            encoded: self.encoded.unwrap_or(&[]).into(),
            format: self.format.unwrap_or("").into(),
            wanted_roles: self.wanted.bits(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Map;

    #[test]
    fn roles_cross_the_boundary() {
        let rgb = [0u8; 12];
        let all = ImageRef::from_rgb(2, 2, &rgb).expect("2x2");
        assert!([MapRole::Visual, MapRole::Heatmap, MapRole::Mask].iter().all(|r| all.wants(*r)));
        let heat = all.wanting(MapRoles::of(&[MapRole::Heatmap]));
        assert!(heat.wants(MapRole::Heatmap) && !heat.wants(MapRole::Visual) && !heat.wants(MapRole::Mask));
        let back = ImageRef::from_abi(&heat.to_abi()).expect("same buffer");
        assert_eq!(back.wanted, heat.wanted);
        assert_eq!(MapRoles::from_bits(0xFF), MapRoles::ALL);
        assert_eq!(MapRoles::of(&[]).bits(), 0);
    }

    #[test]
    fn visual_for_renders_only_for_visual_readers() {
        let rgb = [0u8; 12];
        let all = ImageRef::from_rgb(2, 2, &rgb).expect("2x2");
        assert_eq!(Map::visual_for(&all, "v", 2, 2, 1, || vec![7; 4]), Some(Map::visual("v", 2, 2, 1, vec![7; 4])));
        let heat = all.wanting(MapRoles::of(&[MapRole::Heatmap, MapRole::Mask]));
        assert_eq!(Map::visual_for(&heat, "v", 2, 2, 1, || panic!("rendered for a heat-map reader")), None);
    }
}
