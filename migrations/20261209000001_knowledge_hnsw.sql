-- Knowledge retrieval at scale (issue #13, BENCHMARKS.md §8): an exact scan of a client's
-- vectors took p50 178 ms at 100k chunks. HNSW graphs over the vectors of the two common widths —
-- 384 (the embedded MiniLM and e5-small) and 1536 (OpenAI's text-embedding-3-small) — let the
-- search read a few hundred of them instead. The column holds vectors of any width (one row per
-- model), so each graph indexes its width through a cast, on the rows of that width only;
-- vectors of other widths keep the exact scan through idx_knowledge_vectors_ranking.
--
-- The graph holds every client's vectors: the search filters by client, model and collection
-- while it walks (pgvector's iterative scan, set per search), and the planner keeps the exact
-- scan where the filter leaves few rows (a small client), so small collections stay exact.
CREATE INDEX idx_knowledge_vectors_hnsw_384
    ON knowledge_vectors USING hnsw ((embedding::halfvec(384)) halfvec_cosine_ops)
    WHERE vector_dims(embedding) = 384;
CREATE INDEX idx_knowledge_vectors_hnsw_1536
    ON knowledge_vectors USING hnsw ((embedding::halfvec(1536)) halfvec_cosine_ops)
    WHERE vector_dims(embedding) = 1536;
