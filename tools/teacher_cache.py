#!/usr/bin/env python3
"""Export a Student Lab teacher cache on a GPU server (docs/distillation.md, "Teacher-cache file format").

For every response position of a preference data set ({"prompt", "chosen", "rejected"} JSONL or a JSON
array) the teacher's top-K token ids and probabilities at temperature 1 (softmax over the full
vocabulary) and the remaining mass, written as the lab's safetensors teacher cache. The data are read
and rendered exactly as the lab does (src/distill/data/preference.ts, sft.ts), so the cache imports into
the page (Data & teacher cache panel) and into `student-lab train --teacher-chosen/--teacher-rejected`.

Back ends:
  transformers  the teacher runs here (Hugging Face transformers + torch; cuda when present)
  vllm          a vLLM OpenAI-compatible server scores the sequences: /v1/completions with the prompt
                given as token ids and `prompt_logprobs` = K (start the server with --max-logprobs >= K);
                --model then names a local folder or hub id holding the teacher's tokenizer and config.json

Needs: python >= 3.9, numpy, transformers (tokenizer and chat template), and torch for the transformers
back end. `--self-test` checks the data reader and the vLLM response parser offline.
"""
import argparse, hashlib, json, math, os, struct, sys, time, urllib.error, urllib.request

import numpy as np

IGNORE = -100
# JavaScript's String.prototype.trim() set (the lab skips lines that trim to nothing).
JS_SPACE = ' \t\n\v\f\r\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff'
SUM_TOLERANCE = {'f16': 2e-3, 'f32': 1e-4}  # the lab's import tolerance on probs + rest = 1


class ExportError(Exception):
    pass


# ---- preference data, as src/distill/data/records.ts + preference.ts + sft.ts read it ----------------

def read_records(text, file):
    if text.lstrip(JS_SPACE).startswith('['):
        try:
            items = json.loads(text.strip(JS_SPACE))
        except ValueError as e:
            raise ExportError(f'{file}: is not valid JSON ({e}).')
        return [(v, f'item {i}') for i, v in enumerate(items)]
    out = []
    for i, line in enumerate(text.replace('\r\n', '\n').split('\n')):
        if line.strip(JS_SPACE) == '':
            continue
        try:
            out.append((json.loads(line), f'line {i + 1}'))
        except ValueError as e:
            raise ExportError(f'{file} line {i + 1}: is not valid JSON ({e}).')
    if not out:
        raise ExportError(f'{file}: holds no records.')
    return out


def js_string(v, where):
    """String(v) as JavaScript writes it, for the "id" field."""
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return 'true' if v else 'false'
    if v is None:
        return 'null'
    if isinstance(v, (int, float)) and abs(v) < 2**53 and float(v).is_integer():
        return str(int(v))
    raise ExportError(f'{where}: "id" {json.dumps(v)} has no exact JavaScript spelling: give ids as strings.')


def messages(v, where, field):
    if isinstance(v, str):
        return [{'role': 'user', 'content': v}]
    if not isinstance(v, list) or not v:
        raise ExportError(f'{where}: "{field}" must be a string or a non-empty list of {{role, content}} messages.')
    for i, m in enumerate(v):
        if not isinstance(m, dict) or not isinstance(m.get('role'), str) or not isinstance(m.get('content'), str):
            raise ExportError(f'{where}: "{field}"[{i}] must be {{"role": string, "content": string}}.')
    return [{'role': m['role'], 'content': m['content']} for m in v]


def response_text(v, where, field):
    if isinstance(v, str):
        return v
    last = messages(v, where, field)[-1]
    if last['role'] != 'assistant':
        raise ExportError(f'{where}: "{field}" must be a string or end with an assistant message.')
    return last['content']


def read_pairs(path):
    """(dataset_sha256, [(id, prompt messages, chosen, rejected, where)])."""
    try:
        raw = open(path, 'rb').read()
    except OSError as e:
        raise ExportError(f'--data: cannot read {path} ({e.strerror}).')
    # The lab hashes the file's text as UTF-8: the bytes themselves whenever the file is valid UTF-8.
    text = raw.decode('utf-8', errors='replace')
    pairs, seen = [], set()
    for i, (value, where) in enumerate(read_records(text, path)):
        where = f'{path} {where}'
        if not isinstance(value, dict):
            raise ExportError(f'{where}: must be a JSON object.')
        for f in ('prompt', 'chosen', 'rejected'):
            if f not in value:
                raise ExportError(f'{where}: is missing "{f}" (preference data needs prompt, chosen and rejected).')
        pid = str(i) if 'id' not in value else js_string(value['id'], where)
        if pid in seen:
            raise ExportError(f'{where}: repeats the example id "{pid}".')
        seen.add(pid)
        pairs.append((pid, messages(value['prompt'], where, 'prompt'), response_text(value['chosen'], where, 'chosen'),
                      response_text(value['rejected'], where, 'rejected'), where))
    return hashlib.sha256(text.encode('utf-8')).hexdigest(), pairs


def render(tok, prompt, response, where):
    """(ids, labels): the prompt with the generation prompt is ignored; the rest (response, end of turn,
    whatever the template appends) is the response, as sft.ts renderPair."""
    if not tok.chat_template:
        p = tok.encode('\n'.join(m['content'] for m in prompt))
        r = tok.encode(response, add_special_tokens=False)
        eos = [] if tok.eos_token_id is None else [tok.eos_token_id]
        return p + r + eos, [IGNORE] * len(p) + r + eos
    encode = lambda msgs, gen: tok(tok.apply_chat_template(msgs, add_generation_prompt=gen, tokenize=False), add_special_tokens=False)['input_ids']
    head = encode(prompt, True)
    full = encode(prompt + [{'role': 'assistant', 'content': response}], False)
    if not (len(head) < len(full) and full[:len(head)] == head):
        raise ExportError(f'{where}: the chat template renders the prompt differently with and without the response, so the response tokens cannot be located.')
    return full, [IGNORE if i < len(head) else t for i, t in enumerate(full)]


def sequences(pairs, tok, side, max_length):
    """The sequences of one response side in data order, truncated or skipped as tokenizePairs does."""
    seqs, truncated, skipped = [], 0, 0
    for pid, prompt, chosen, rejected, where in pairs:
        c, r = render(tok, prompt, chosen, where), render(tok, prompt, rejected, where)
        head = next((i for i, l in enumerate(c[1]) if l != IGNORE), len(c[1]))
        if max(len(c[0]), len(r[0])) > max_length:
            if head >= max_length - 1:
                skipped += 1
                continue
            c, r = (c[0][:max_length], c[1][:max_length]), (r[0][:max_length], r[1][:max_length])
            truncated += 1
        ids, labels = c if side == 'chosen' else r
        # Position j of the example: the row t that predicts response token j (labels[t + 1]).
        rows = [t for t in range(len(labels) - 1) if labels[t + 1] != IGNORE]
        seqs.append({'id': pid, 'ids': ids, 'rows': rows, 'tokens': [labels[t + 1] for t in rows]})
    return seqs, truncated, skipped


# ---- back ends: each yields (indices int32 [n, K], probs float32 [n, K]) per sequence ---------------

def score_transformers(a, seqs, vocab_size):
    import torch
    from transformers import AutoModelForCausalLM
    dtype = {'f32': torch.float32, 'bf16': torch.bfloat16, 'fp16': torch.float16}[a.compute]
    if a.device == 'multi':  # layers spread over every GPU of the machine (needs the accelerate package)
        model = AutoModelForCausalLM.from_pretrained(a.model, dtype=dtype, device_map='auto').eval()
    else:
        device = a.device if a.device != 'auto' else ('cuda' if torch.cuda.is_available() else 'cpu')
        model = AutoModelForCausalLM.from_pretrained(a.model, dtype=dtype).to(device).eval()
    device = model.device  # where the inputs go
    for s0 in range(0, len(seqs), a.batch_size):
        batch = seqs[s0:s0 + a.batch_size]
        T = max(len(s['ids']) for s in batch)
        ids = torch.tensor([s['ids'] + [0] * (T - len(s['ids'])) for s in batch], device=device)
        mask = torch.tensor([[1] * len(s['ids']) + [0] * (T - len(s['ids'])) for s in batch], device=device)
        start = min((s['rows'][0] for s in batch if s['rows']), default=0)  # logits from the first response row on
        with torch.no_grad():
            try:
                logits = model(input_ids=ids, attention_mask=mask, logits_to_keep=T - start).logits
            except TypeError:  # a model class without logits_to_keep
                logits = model(input_ids=ids, attention_mask=mask).logits[:, start:]
            if logits.shape[-1] != vocab_size:
                raise ExportError(f'{a.model}: the model gives {logits.shape[-1]} logits, config.json vocab_size is {vocab_size}.')
            for b, s in enumerate(batch):
                rows = torch.tensor(s['rows'], device=device) - start
                p = torch.softmax(logits[b, rows].float(), dim=-1)
                # Stable sort: equal probabilities keep the lower id first, as the lab's top-K kernel does.
                values, indices = torch.sort(p, dim=-1, descending=True, stable=True)
                yield indices[:, :a.k].int().cpu().numpy(), values[:, :a.k].cpu().numpy()


def parse_vllm_choice(choice, s, k):
    """Top-K rows of one sequence from a vLLM completions choice. `prompt_logprobs[i]` is the
    distribution that predicted prompt token i ({"<id>": {"logprob", "rank", "decoded_token"}}, None at
    i = 0); it lists the top `prompt_logprobs` ids plus token i itself when that is not among them."""
    plp = choice.get('prompt_logprobs')
    if not isinstance(plp, list) or len(plp) != len(s['ids']):
        raise ExportError(f'example "{s["id"]}": the server returned no prompt_logprobs for its {len(s["ids"])} tokens '
                          '(needs a vLLM server; other OpenAI-compatible servers do not return them).')
    indices, probs = np.zeros((len(s['rows']), k), np.int32), np.zeros((len(s['rows']), k), np.float32)
    for j, (t, token) in enumerate(zip(s['rows'], s['tokens'])):
        entry = plp[t + 1]
        if not isinstance(entry, dict) or str(token) not in entry:
            raise ExportError(f'example "{s["id"]}" position {j}: prompt_logprobs[{t + 1}] does not score the sent token {token}.')
        lp = [(int(i), v['logprob'] if isinstance(v, dict) else v) for i, v in entry.items()]
        lp.sort(key=lambda x: (-x[1], x[0]))  # descending probability, lower id first on ties
        if len(lp) < k:
            raise ExportError(f'example "{s["id"]}" position {j}: the server returned {len(lp)} log-probs, fewer than K = {k}.')
        indices[j] = [i for i, _ in lp[:k]]
        probs[j] = [math.exp(v) for _, v in lp[:k]]
    return indices, probs


def score_vllm(a, seqs, vocab_size):
    url = a.vllm_url.rstrip('/') + ('' if a.vllm_url.rstrip('/').endswith('/v1') else '/v1') + '/completions'
    for s0 in range(0, len(seqs), a.batch_size):
        batch = seqs[s0:s0 + a.batch_size]
        # Temperature 1 and no top-p/top-k: older engines computed prompt log-probs after these.
        body = {'model': a.vllm_model or a.model, 'prompt': [s['ids'] for s in batch], 'max_tokens': 1,
                'prompt_logprobs': a.k, 'temperature': 1.0, 'top_p': 1.0, 'top_k': -1, 'min_p': 0.0,
                'repetition_penalty': 1.0, 'presence_penalty': 0.0, 'frequency_penalty': 0.0}
        req = urllib.request.Request(url, json.dumps(body).encode(), {'Content-Type': 'application/json'})
        if os.environ.get('VLLM_API_KEY'):
            req.add_header('Authorization', 'Bearer ' + os.environ['VLLM_API_KEY'])
        try:
            with urllib.request.urlopen(req, timeout=a.timeout) as r:
                reply = json.loads(r.read())
        except urllib.error.HTTPError as e:
            text = e.read().decode(errors='replace')[:500]
            hint = f' (start vLLM with --max-logprobs {a.k} or more)' if 'logprob' in text.lower() else ''
            raise ExportError(f'{url}: HTTP {e.code}: {text}{hint}')
        except (urllib.error.URLError, OSError) as e:
            raise ExportError(f'{url}: cannot reach the vLLM server ({e}).')
        choices = sorted(reply.get('choices', []), key=lambda c: c.get('index', 0))
        if len(choices) != len(batch):
            raise ExportError(f'{url}: {len(choices)} choices for {len(batch)} prompts.')
        for c, s in zip(choices, batch):
            yield parse_vllm_choice(c, s, a.k)


# ---- the file ------------------------------------------------------------------------------------

def save_safetensors(path, tensors, metadata):
    """A safetensors file with a sorted header (the same inputs give the same bytes), written whole or not at all."""
    header, blobs, offset = {'__metadata__': metadata}, [], 0
    for name, arr in tensors.items():
        data = np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder('<')).tobytes()
        header[name] = {'dtype': {'int32': 'I32', 'float16': 'F16', 'float32': 'F32'}[arr.dtype.name],
                        'shape': list(arr.shape), 'data_offsets': [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, sort_keys=True, separators=(',', ':')).encode()
    text += b' ' * (-len(text) % 8)
    with open(path + '.part', 'wb') as f:
        f.write(struct.pack('<Q', len(text)) + text + b''.join(blobs))
    os.replace(path + '.part', path)


def write_cache(path, meta, seqs, scored, dtype):
    offsets, tokens, indices, probs = [0], [], [], []
    t0 = shown = time.time()
    for n, (s, (idx, p)) in enumerate(zip(seqs, scored), 1):
        offsets.append(offsets[-1] + len(s['rows']))
        tokens += s['tokens']
        indices.append(idx)
        probs.append(p)
        if time.time() - shown > 10 or n == len(seqs):
            shown = time.time()
            print(f'{n}/{len(seqs)} sequences, {offsets[-1]} positions, {shown - t0:.0f} s', file=sys.stderr)
    indices, probs = np.concatenate(indices), np.concatenate(probs).astype(np.float32)
    vocab_size = int(meta['vocab_size'])
    if indices.size and not 0 <= indices.min() <= indices.max() < vocab_size:
        raise ExportError(f'the teacher gave token ids outside the vocabulary [0, {vocab_size}) of config.json.')
    # The rest from the f32 values, as the lab's build does; sums in float64.
    rest = np.clip(1.0 - probs.astype(np.float64).sum(axis=1), 0.0, 1.0).astype(np.float32)
    stored = probs.astype(np.float16) if dtype == 'f16' else probs
    bad = ~np.isfinite(stored).all(axis=1) | (stored < 0).any(axis=1) | (stored > 1).any(axis=1)
    bad |= np.abs(stored.astype(np.float64).sum(axis=1) + rest - 1) > SUM_TOLERANCE[dtype]
    if bad.any():
        raise ExportError(f'position {int(np.argmax(bad))}: probabilities that are not a distribution (NaN, outside [0, 1], or a sum off 1).')
    save_safetensors(path, {'example_offsets': np.array(offsets, np.int32), 'tokens': np.array(tokens, np.int32),
                            'indices': indices.astype(np.int32), 'probs': stored, 'rest': rest}, meta)
    return len(tokens)


def tokenizer_sha256(model):
    path = os.path.join(model, 'tokenizer.json') if os.path.isdir(model) else None
    if path is None:
        from huggingface_hub import hf_hub_download
        try:
            path = hf_hub_download(model, 'tokenizer.json')
        except Exception:  # not on the hub, or no such file: reported below
            path = ''
    if not os.path.isfile(path):
        raise ExportError(f'{model}: has no tokenizer.json; the lab identifies a tokenizer by the SHA-256 of that file.')
    return hashlib.sha256(open(path, 'rb').read()).hexdigest()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog='Only chosen and rejected responses: caches of the student\'s own responses (ADPA) need the '
                                        'lab\'s student to generate them; build those with `student-lab teacher-cache --response student`.')
    ap.add_argument('--model', help='teacher folder or hub id (for vllm: a folder or id with its tokenizer and config.json)')
    ap.add_argument('--data', help='preference data, JSONL or a JSON array of {"prompt", "chosen", "rejected"[, "id"]}')
    ap.add_argument('--response', choices=['chosen', 'rejected'], help='which response of each pair the cache covers (not "student": see below)')
    ap.add_argument('--out', help='the cache file to write (.safetensors)')
    ap.add_argument('--k', type=int, default=50, help='top-K per position (1 … 256; default 50)')
    ap.add_argument('--dtype', choices=['f16', 'f32'], default='f16', help='stored probability precision (default f16)')
    ap.add_argument('--max-length', type=int, default=512, help='tokens per sequence; use the value the lab trains with (default 512, as the lab)')
    ap.add_argument('--batch-size', type=int, default=4, help='sequences per forward pass or per request (default 4)')
    ap.add_argument('--backend', choices=['transformers', 'vllm'], default='transformers')
    ap.add_argument('--device', default='auto', help='transformers: auto (cuda when present; default), cuda, cuda:N, cpu, or multi (all GPUs; needs accelerate)')
    ap.add_argument('--compute', choices=['f32', 'bf16', 'fp16'], default='f32', help='transformers: weights and arithmetic (default f32, for parity; softmax is f32 always)')
    ap.add_argument('--vllm-url', default='http://localhost:8000', help='vllm: the server (default http://localhost:8000; VLLM_API_KEY sets a bearer token)')
    ap.add_argument('--vllm-model', help='vllm: the served model name (default: --model)')
    ap.add_argument('--timeout', type=float, default=600, help='vllm: seconds per request (default 600)')
    ap.add_argument('--self-test', action='store_true', help='check the data reader and the vLLM parser offline, then exit')
    a = ap.parse_args(argv)
    if a.self_test:
        return self_test()
    missing = [f'--{f}' for f in ('model', 'data', 'response', 'out') if getattr(a, f) is None]
    if missing:
        ap.error(f'{", ".join(missing)} required')
    if not 1 <= a.k <= 256:
        ap.error(f'--k must be 1 … 256 (the lab\'s loss kernels take up to 256), got {a.k}')
    try:
        from transformers import AutoConfig, AutoTokenizer
        try:
            tok, config = AutoTokenizer.from_pretrained(a.model), AutoConfig.from_pretrained(a.model)
        except (OSError, ValueError) as e:
            raise ExportError(f'--model: cannot load the tokenizer and config.json of {a.model} ({e}).')
        vocab_size = getattr(config, 'vocab_size', None) or config.get_text_config().vocab_size
        dataset_sha, pairs = read_pairs(a.data)
        seqs, truncated, skipped = sequences(pairs, tok, a.response, a.max_length)
        if truncated or skipped:
            print(f'data: {len(seqs)} pairs; {truncated} truncated, {skipped} skipped as too long', file=sys.stderr)
        if not seqs:
            raise ExportError(f'--data: {a.data} has no usable pairs.')
        meta = {'format': 'student-lab/teacher-cache', 'version': '1', 'kind': 'probs', 'response': a.response,
                'k': str(a.k), 'temperature': '1', 'model': (a.vllm_model or a.model) if a.backend == 'vllm' else a.model,
                'tokenizer_sha256': tokenizer_sha256(a.model), 'vocab_size': str(vocab_size), 'dataset_sha256': dataset_sha,
                'example_ids': json.dumps([s['id'] for s in seqs], ensure_ascii=False, separators=(',', ':'))}
        score = score_vllm if a.backend == 'vllm' else score_transformers
        n = write_cache(a.out, meta, seqs, score(a, seqs, vocab_size), a.dtype)
    except ExportError as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    print(f'wrote {a.out}: {len(seqs)} examples, {n} positions, K={a.k}', file=sys.stderr)
    return 0


def self_test():
    """Offline checks: the data reader's ids, and a canned vLLM reply through the parser."""
    recs = read_records('{"id": 7}\n\n \t\n{"id": true}\r\n{"x": 1}\n', 'mem')
    assert [w for _, w in recs] == ['line 1', 'line 4', 'line 5'], recs
    assert [js_string(v, '') for v in (7, 7.0, True, None, 'a')] == ['7', '7', 'true', 'null', 'a']
    assert read_records(' [{"a": 1}, 2]', 'mem') == [({'a': 1}, 'item 0'), (2, 'item 1')]
    # ids: prompt (3 tokens) + response 11, 12; rows 2 and 3 predict them.
    s = {'id': 'e', 'ids': [5, 6, 7, 11, 12], 'rows': [2, 3], 'tokens': [11, 12]}
    lp = lambda *pairs: {str(i): {'logprob': math.log(p), 'rank': r + 1, 'decoded_token': '?'} for r, (i, p) in enumerate(pairs)}
    # vLLM JSON: prompt_logprobs[0] is null; a dict key is a token id; the scored token is added when it
    # is outside the top K (position 4: id 12 at p = 0.01); tied values (0.2, 0.2) order by id.
    reply = json.loads(json.dumps({'choices': [{'index': 0, 'text': 'x', 'prompt_logprobs': [
        None, lp((6, 0.9)), lp((7, 0.5)),
        lp((11, 0.6), (30, 0.2), (20, 0.2)),
        {**lp((40, 0.5), (41, 0.3), (42, 0.1)), '12': {'logprob': math.log(0.01), 'rank': 9, 'decoded_token': 'y'}}]}]}))
    idx, p = parse_vllm_choice(reply['choices'][0], s, 3)
    assert idx.tolist() == [[11, 20, 30], [40, 41, 42]], idx
    assert np.allclose(p, [[0.6, 0.2, 0.2], [0.5, 0.3, 0.1]], atol=1e-7), p
    for broken, message in (({'prompt_logprobs': None}, 'no prompt_logprobs'),
                            ({'prompt_logprobs': reply['choices'][0]['prompt_logprobs'][:4]}, 'no prompt_logprobs'),
                            ({'prompt_logprobs': [None, None, lp((1, 1.0)), lp((12, 1.0)), lp((12, 1.0))]}, 'sent token 11')):
        try:
            parse_vllm_choice(broken, s, 3)
            raise AssertionError(f'accepted a reply with {message}')
        except ExportError as e:
            assert message in str(e), e
    print('self-test passed', file=sys.stderr)
    return 0


if __name__ == '__main__':
    sys.exit(main())
