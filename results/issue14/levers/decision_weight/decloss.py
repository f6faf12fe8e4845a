"""Mean cross-entropy (teacher-forced) of the decision tokens and of the other answer tokens on a dev set, for a full
fine-tune: `python decloss.py DATA RUN` (RUN/model/); decisions of all five kinds, whatever RUN weighed. Session 42:
dev_proc150, cand40 and cand43; session 43: cand44."""
import sys, torch
from calltune.models import load_tokenizer
from calltune.examples import load_examples
from calltune.render import render_example
from calltune.decisions import decision_positions
from transformers import AutoModelForCausalLM
data, run = sys.argv[1], sys.argv[2]
torch.set_num_threads(2)
tok = load_tokenizer(run + "/model")
model = AutoModelForCausalLM.from_pretrained(run + "/model", dtype=torch.float32).eval()
sums = {"decision": [0.0, 0], "other": [0.0, 0]}
with torch.no_grad():
    for ex in load_examples(data):
        r = render_example(ex, tok, "hermes", "completion")
        dec = decision_positions(r.input_ids, r.loss_mask, tok)
        ids = torch.tensor([r.input_ids])
        logp = torch.log_softmax(model(input_ids=ids).logits[0, :-1].float(), -1)
        for pos in range(1, len(r.input_ids)):
            if r.loss_mask[pos]:
                kind = "decision" if pos in dec else "other"
                sums[kind][0] -= logp[pos - 1, r.input_ids[pos]].item(); sums[kind][1] += 1
print(run, {k: (round(v[0] / v[1], 4), v[1]) for k, v in sums.items()})
