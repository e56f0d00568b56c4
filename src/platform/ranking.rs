//! Hybrid ranking, one definition for every search over a tenant's texts (memory recall,
//! knowledge retrieval): the closest vectors and the best keyword matches, fused by reciprocal
//! rank, exact, in one statement. Each caller supplies where its candidates come from; the
//! scoring, the fusion and their parameters are shared:
//!
//! * `dense`: a subquery of `winner` (the candidate's key, as text) and `distance` (cosine
//!   distance to the query vector `$4`), the `$6` closest;
//! * `config`: the text search configuration the words are read in (stemming, stop words);
//! * `matching`: a subquery of `winner` and `search_terms` (its `tsvector`) for every candidate
//!   sharing a word with the query `$5` (`terms.any_word` is the query's words OR-ed);
//! * `docs`: how many candidates there are in all (for the inverse document frequency);
//! * `result`: the final `SELECT … FROM fused …`, reading `fused.winner`, `fused.similarity`,
//!   `fused.keyword` and `fused.fused`.
//!
//! Keyword scores are BM25's: each shared word's inverse document frequency among the
//! candidates times its weight in the candidate, Postgres's `ts_rank` of the word (saturating
//! with repeats, weights B 0.5 and A 1, scaled so one A occurrence is 1), the best `$6`. Fusion:
//! `$8 / ($7 + dense rank) + $9 / ($7 + keyword rank)`, the best `$10`.

macro_rules! hybrid_ranking_sql {
    (dense: $dense:expr, config: $config:expr, matching: $matching:expr, docs: $docs:expr,
     result: $result:expr $(,)?) => {
        concat!(
            "WITH dense AS (
                 SELECT winner, 1 - distance AS similarity,
                        row_number() OVER (ORDER BY distance, winner) AS rank
                 FROM (",
            $dense,
            ") d),
             terms AS (
                 SELECT tsvector_to_array(to_tsvector(c.cfg, $5)) AS lexemes,
                        CASE WHEN numnode(plainto_tsquery(c.cfg, $5)) = 0 THEN NULL
                             ELSE replace(plainto_tsquery(c.cfg, $5)::text,
                                          ' & ', ' | ')::tsquery END AS any_word
                 FROM (SELECT ",
            $config,
            " AS cfg) c),
             words AS MATERIALIZED (
                 SELECT l AS lexeme,
                        ('''' || replace(replace(l, '\\', '\\\\'), '''', '''''')
                         || '''')::tsquery AS word
                 FROM terms, unnest(terms.lexemes) l),
             matching AS (",
            $matching,
            "),
             hits AS (
                 SELECT m.winner, w.lexeme,
                        ts_rank('{0.1, 0.2, 0.5, 1.0}', m.search_terms, w.word, 0) / 0.6079271 AS tf
                 FROM matching m CROSS JOIN words w
                 WHERE m.search_terms @@ w.word),
             df AS MATERIALIZED (SELECT lexeme, count(*) AS n FROM hits GROUP BY lexeme),
             docs AS (
                 SELECT greatest(",
            $docs,
            ", (SELECT count(*) FROM matching), 1)::float8 AS n),
             keyword AS (
                 SELECT winner, score, row_number() OVER (ORDER BY score DESC, winner) AS rank
                 FROM (SELECT h.winner,
                              sum(ln(1 + (docs.n - df.n + 0.5) / (df.n + 0.5)) * h.tf) AS score
                       FROM hits h JOIN df USING (lexeme) CROSS JOIN docs
                       GROUP BY h.winner
                       ORDER BY score DESC, h.winner LIMIT $6) k),
             fused AS (
                 SELECT coalesce(d.winner, k.winner) AS winner, d.similarity, k.score AS keyword,
                        coalesce($8::float8 / ($7::float8 + d.rank), 0)
                          + coalesce($9::float8 / ($7::float8 + k.rank), 0) AS fused
                 FROM dense d FULL JOIN keyword k ON d.winner = k.winner
                 ORDER BY fused DESC, winner LIMIT $10)
             ",
            $result
        )
    };
}
pub(crate) use hybrid_ranking_sql;

/// What a hybrid search ranks by, and how the two rankings are fused.
#[derive(Debug, Clone, Copy)]
pub struct Fusion {
    /// Candidates each signal contributes.
    pub per_signal: u32,
    /// Reciprocal rank fusion's k.
    pub k: f64,
    pub dense_weight: f64,
    pub keyword_weight: f64,
}

impl Fusion {
    /// As the `[memory]` settings say (memory recall and knowledge retrieval rank alike).
    pub fn from_settings(m: &super::config::Memory) -> Fusion {
        Fusion {
            per_signal: m.recall_candidates.max(1),
            k: m.rrf_k.max(0.0),
            dense_weight: m.dense_weight.max(0.0),
            keyword_weight: m.keyword_weight.max(0.0),
        }
    }
}
