//! Training sequences: a conversation tokenized message by message so that
//! each token knows whether the model wrote it (assistant turns: trained on)
//! or was given it (system, user, observations: masked), and the per-token
//! log-probabilities the SFT and GRPO losses need.

use candle_core::{DType, Tensor, D};

use super::chat::{ChatMessage, ChatPart, Prompt};
use super::preprocess::preprocess;
use super::text::KvCache;
use super::{ModelError, Qwen25Vl};

/// A tokenized conversation with a loss mask.
#[derive(Clone, Debug)]
pub struct TrainSequence {
    /// Token ids and images.
    pub prompt: Prompt,
    /// Per token: whether the loss counts it (assistant-written).
    pub trainable: Vec<bool>,
}

impl TrainSequence {
    /// Trainable tokens.
    pub fn trainable_count(&self) -> usize {
        self.trainable.iter().filter(|&&t| t).count()
    }
}

const ASSISTANT_HEADER: &str = "<|im_start|>assistant\n";

impl Qwen25Vl {
    /// Tokenizes `messages` (rendered with the chat template) so that the
    /// tokens of assistant replies, up to and including their `<|im_end|>`,
    /// are trainable. Rendering prefixes keeps the text exactly what the
    /// template gives for the whole conversation.
    pub fn train_sequence(&self, messages: &[ChatMessage]) -> Result<TrainSequence, ModelError> {
        let mut ids = Vec::new();
        let mut trainable = Vec::new();
        let mut images = Vec::new();
        let mut done = String::new();
        for k in 0..messages.len() {
            let full = self.chat.render(&messages[..=k], false)?;
            let seg = full.strip_prefix(done.as_str()).ok_or_else(|| ModelError::Tokenizer("the chat template does not render prefixes consistently".into()))?.to_string();
            let mut seg_images = Vec::new();
            for p in &messages[k].parts {
                if let ChatPart::Image(img) = p {
                    seg_images.push(preprocess(img, &self.preprocessor)?);
                }
            }
            let train_body = messages[k].role == "assistant";
            // Assistant segment: header (given) + body through <|im_end|> (trained) + rest (given).
            let pieces: Vec<(&str, bool)> = match (train_body, seg.find(ASSISTANT_HEADER)) {
                (true, Some(h)) => {
                    let body_start = h + ASSISTANT_HEADER.len();
                    let body_end = seg[body_start..].find("<|im_end|>").map(|e| body_start + e + "<|im_end|>".len()).unwrap_or(seg.len());
                    vec![(&seg[..body_start], false), (&seg[body_start..body_end], true), (&seg[body_end..], false)]
                }
                _ => vec![(seg.as_str(), false)],
            };
            let mut img_iter = seg_images.iter().cloned();
            for (text, train) in pieces {
                if text.is_empty() {
                    continue;
                }
                let n_pads = text.matches("<|image_pad|>").count();
                let these: Vec<_> = img_iter.by_ref().take(n_pads).collect();
                let t = self.chat.tokenize_expanded(text, &these)?;
                trainable.extend(std::iter::repeat_n(train, t.len()));
                ids.extend(t);
                images.extend(these);
            }
            done = full;
        }
        Ok(TrainSequence { prompt: Prompt { text: done, ids, images }, trainable })
    }

    /// `log p(token_t | tokens_<t)` for t = 1..len, `[len - 1]` f32; with
    /// `train` the graph is differentiable (adapters get gradients).
    pub fn token_logprobs(&self, prompt: &Prompt, train: bool) -> Result<Tensor, ModelError> {
        let pre = self.prepare(prompt)?;
        let mut cache = KvCache::new();
        let h = self.text.forward_hidden(&pre.embeds, &pre.positions, &mut cache, train)?;
        let len = h.dim(1)?;
        if len < 2 {
            return Err(ModelError::Input("a sequence needs at least two tokens".into()));
        }
        let logits = self.text.logits(&h.narrow(1, 0, len - 1)?.squeeze(0)?)?.to_dtype(DType::F32)?;
        let logp = candle_nn::ops::log_softmax(&logits, D::Minus1)?;
        let targets = Tensor::new(&prompt.ids[1..], &self.device)?.unsqueeze(1)?;
        Ok(logp.gather(&targets, 1)?.squeeze(1)?)
    }
}
