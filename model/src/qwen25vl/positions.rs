//! M-RoPE position ids (reference: `get_rope_index`): text tokens advance all
//! three components together; an image's tokens share the temporal position
//! and take their row and column in the merged grid, offset past the text
//! before them; text after an image resumes past the image's largest position.

use crate::ModelError;

/// Positions `[3][len]` for a prompt, and the delta that decoding adds to
/// `cache length` to get the next position.
pub fn mrope_positions(ids: &[u32], image_token: u32, grids: &[[usize; 3]], merge: usize) -> Result<([Vec<i64>; 3], i64), ModelError> {
    let mut pos: [Vec<i64>; 3] = [Vec::with_capacity(ids.len()), Vec::with_capacity(ids.len()), Vec::with_capacity(ids.len())];
    let mut next: i64 = 0;
    let mut i = 0;
    let mut grid_iter = grids.iter();
    while i < ids.len() {
        if ids[i] != image_token {
            for p in pos.iter_mut() {
                p.push(next);
            }
            next += 1;
            i += 1;
            continue;
        }
        let &[t, h, w] = grid_iter.next().ok_or_else(|| ModelError::Input("more image placeholders in the prompt than images".into()))?;
        let (lh, lw) = (h / merge, w / merge);
        let n = t * lh * lw;
        if i + n > ids.len() || ids[i..i + n].iter().any(|&x| x != image_token) {
            return Err(ModelError::Input(format!("an image needs {n} consecutive placeholder tokens at position {i}")));
        }
        for _ti in 0..t {
            for y in 0..lh {
                for x in 0..lw {
                    // Still images: temporal index 0 (seconds per grid 0).
                    pos[0].push(next);
                    pos[1].push(next + y as i64);
                    pos[2].push(next + x as i64);
                }
            }
        }
        next += lh.max(lw).max(1) as i64;
        i += n;
    }
    if grid_iter.next().is_some() {
        return Err(ModelError::Input("more images than placeholders in the prompt".into()));
    }
    let delta = next - ids.len() as i64;
    Ok((pos, delta))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_only_is_plain_positions() {
        let (p, d) = mrope_positions(&[5, 6, 7], 9, &[], 2).unwrap();
        assert_eq!(p[0], vec![0, 1, 2]);
        assert_eq!(p[2], vec![0, 1, 2]);
        assert_eq!(d, 0);
    }

    #[test]
    fn image_grid_positions_and_delta() {
        // 2 text, a 4x6 patch grid (2x3 merged tokens), 1 text.
        let ids = [1, 2, 9, 9, 9, 9, 9, 9, 3];
        let (p, d) = mrope_positions(&ids, 9, &[[1, 4, 6]], 2).unwrap();
        assert_eq!(p[0], vec![0, 1, 2, 2, 2, 2, 2, 2, 5]);
        assert_eq!(p[1], vec![0, 1, 2, 2, 2, 3, 3, 3, 5]);
        assert_eq!(p[2], vec![0, 1, 2, 3, 4, 2, 3, 4, 5]);
        // Next position 6 at cache length 9.
        assert_eq!(d, 6 - 9);
    }

    #[test]
    fn mismatched_placeholders_are_errors() {
        assert!(mrope_positions(&[9, 9, 1], 9, &[[1, 4, 4]], 2).is_err());
        assert!(mrope_positions(&[1], 9, &[[1, 4, 4]], 2).is_err());
    }
}
