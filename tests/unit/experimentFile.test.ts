import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadExperiment } from '../../core/experiment/load.js';
import { experimentCells } from '../../core/experiment/cells.js';
import { DATA_FILES } from '../../core/paths.js';

const dir = mkdtempSync(path.join(tmpdir(), 'flask-experiment-'));
function write(name: string, text: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, text);
  return file;
}

const GOOD = `name: exp1
models:
  - published: gpt4
  - answers: mine.jsonl
    name: mine
  - endpoint: { model: llama-3, base-url: offline }
judges:
  - { model: j1, base-url: offline }
  - name: duo
    panel:
      - { model: j1, base-url: offline }
      - { model: j2, base-url: offline, profile: prometheus }
eval-sets: [flask, flask-hard, { file: sets/custom.jsonl, name: custom }]
settings: { limit: 5 }
`;

test('an experiment file expands into models x judges x eval sets cells with derived run names and resolved paths', () => {
  const file = write('good.yaml', GOOD);
  const { experiment } = loadExperiment(file);
  const cells = experimentCells(experiment, file);
  assert.equal(cells.length, 3 * 2 * 3);
  assert.deepEqual(cells.slice(0, 3).map((c) => c.runId), ['exp1-gpt4-j1-flask', 'exp1-gpt4-j1-hard', 'exp1-gpt4-j1-custom']);
  assert.equal(cells[1]!.evalSet.file, DATA_FILES.hardSet);
  assert.equal(cells[2]!.evalSet.file, path.join(dir, 'sets', 'custom.jsonl'));
  const panel = cells.find((c) => c.runId === 'exp1-llama-3-duo-flask')!;
  assert.deepEqual(panel.judge.judges, [{ model: 'j1', baseUrl: 'offline' }, { model: 'j2', baseUrl: 'offline', profile: 'prometheus' }]);
  assert.equal(new Set(cells.map((c) => c.runId)).size, cells.length);
  assert.equal(experiment.settings['parallel-cells'], 2, 'the default');
});

test('JSON is read by the same loader, with the same line numbers in errors', () => {
  const file = write('bad.json', '{\n  "name": "x",\n  "models": [{"published": "gpt4"}],\n  "judges": [{"model": "j", "colour": "red"}]\n}\n');
  assert.throws(() => loadExperiment(file), (e: Error) => /bad\.json:4: judges\[0\]/.test(e.message) && /"colour"/.test(e.message));
});

test('a bad experiment file names file:line, the field and the fix', () => {
  const typo = write('typo.yaml', GOOD.replace('settings: { limit: 5 }', 'settings:\n  limt: 5'));
  assert.throws(() => loadExperiment(typo), (e: Error) => {
    assert.match(e.message, /typo\.yaml:15: settings: unknown key "limt": remove it \(or check the spelling\)/);
    return true;
  });
  const missing = write('missing.yaml', 'name: x\njudges:\n  - { model: j }\n');
  assert.throws(() => loadExperiment(missing), /missing\.yaml:1: models: missing: add a list/);
  const badModel = write('model.yaml', 'name: x\nmodels:\n  - { published: gpt4 }\n  - { weights: foo.bin }\njudges: [{ model: j }]\n');
  assert.throws(() => loadExperiment(badModel), /model\.yaml:4: models\[1\]: a model is one of \{published: NAME\}/);
  const syntax = write('syntax.yaml', 'name: x\nmodels: [\n  - a\n');
  assert.throws(() => loadExperiment(syntax), /syntax\.yaml:\d+: not valid YAML/);
  assert.throws(() => loadExperiment(path.join(dir, 'nope.yaml')), /nope\.yaml: cannot read the experiment file \(ENOENT\)/);
});

test('two cells that would share a run name are an error naming both and the fix', () => {
  const file = write('clash.yaml', 'name: x\nmodels:\n  - { published: gpt4 }\n  - { answers: a.jsonl, name: gpt4 }\njudges: [{ model: j }]\n');
  const { experiment } = loadExperiment(file);
  assert.throws(() => experimentCells(experiment, file), /models\[1\] x judges\[0\] x eval-sets\[0\] and models\[0\] x judges\[0\] x eval-sets\[0\] both make the run "x-gpt4-j-flask": give one of them a distinct name/);
});
