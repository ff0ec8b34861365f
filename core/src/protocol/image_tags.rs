//! The `<image>` placeholders of chat training data (ms-swift's message
//! format): each placeholder in a message's text consumes the next entry of
//! the sample's image list, in order. Kept here because both the training-data
//! conversions and `trutheye serve` (which hands observations to ms-swift's
//! multi-turn scheduler) write them, and neither should import the other.

/// The placeholder ms-swift replaces with the next image.
pub const IMAGE_TAG: &str = "<image>";

/// `text` followed by one `<image>` line per image.
pub fn with_images(text: &str, n_images: usize) -> String {
    let mut s = text.to_string();
    for _ in 0..n_images {
        if !s.is_empty() {
            s.push('\n');
        }
        s.push_str(IMAGE_TAG);
    }
    s
}

/// Number of `<image>` placeholders in `text`.
pub fn count_image_tags(text: &str) -> usize {
    text.matches(IMAGE_TAG).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_follow_the_text_one_per_line() {
        assert_eq!(with_images("seen", 2), "seen\n<image>\n<image>");
        assert_eq!(with_images("", 1), "<image>");
        assert_eq!(count_image_tags(&with_images("a <image> b", 3)), 4);
    }
}
