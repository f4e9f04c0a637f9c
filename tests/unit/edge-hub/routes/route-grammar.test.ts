import assert from 'node:assert/strict';

import { compileRoute, messageSourcePath } from '../../../../deployment/edge-hub/src/routes/index.js';
import { tokenize } from '../../../../deployment/edge-hub/src/routes/lexer.js';
import { message, table } from './helpers.js';

const kinds = (text: string): string[] => tokenize(text).map((t) => `${t.kind}:${t.text}`);

describe('routes: lexer (edgeHub GrammarLexer.g4, longest match then rule order)', () => {
  it('reads keywords case-insensitively but true/false/null/undefined only in lower case', () => {
    assert.deepEqual(kinds('from FROM From and OR Not'), ['FROM:from', 'FROM:FROM', 'FROM:From', 'AND:and', 'OR:OR', 'NOT:Not', 'EOF:']);
    assert.deepEqual(kinds('true True null NULL undefined'), ['TRUE:true', 'ID:True', 'NULL:null', 'ID:NULL', 'UNDEFINED:undefined', 'EOF:']);
  });

  it('prefers the longer identifier over a keyword prefix', () => {
    assert.deepEqual(kinds('fromage android'), ['ID:fromage', 'ID:android', 'EOF:']);
  });

  it("treats - + * ! | ' . $ as identifier characters, so a+b is one identifier", () => {
    assert.deepEqual(kinds('a+b x*2 a-b c!'), ['ID:a+b', 'ID:x*2', 'ID:a-b', 'ID:c!', 'EOF:']);
    assert.deepEqual(kinds('a + b'), ['ID:a', 'PLUS:+', 'ID:b', 'EOF:']);
  });

  it('lexes numbers: negative integers, hex, reals with exponent, and edgeHub oddities', () => {
    assert.deepEqual(kinds('-5 0x1F 1.5e3 .5 1. e5'), ['INTEGER:-5', 'HEX:0x1F', 'REAL:1.5e3', 'REAL:.5', 'ID:1.', 'REAL:e5', 'EOF:']);
  });

  it('lexes single- and double-quoted strings with escapes, and unterminated strings', () => {
    assert.deepEqual(kinds(`'it\\'s' "say \\"hi\\"" '\\u0041'`), [`STRING:'it\\'s'`, 'STRING:"say \\"hi\\""', "STRING:'\\u0041'", 'EOF:']);
    assert.deepEqual(kinds("'abc"), ["UNTERMINATED_STRING:'abc", 'EOF:']);
  });

  it('skips whitespace (space, tab, CR, LF) and /* comments */', () => {
    assert.deepEqual(kinds('a\t\r\n/* note */b'), ['ID:a', 'ID:b', 'EOF:']);
  });

  it('reads $name and $body paths (with brackets) as one system-property token', () => {
    assert.deepEqual(kinds('$body.a[0].b $content-type'), ['SYS_PROP:$body.a[0].b', 'SYS_PROP:$content-type', 'EOF:']);
  });

  it('records offsets of every token', () => {
    const [a, op, b] = tokenize('ab <> c');
    assert.deepEqual([a?.start, op?.start, op?.end, b?.start], [0, 3, 5, 6]);
  });
});

describe('routes: route grammar (§2.1)', () => {
  it('compiles FROM <source> INTO <sink> without WHERE as condition true', () => {
    const route = compileRoute('r', 'FROM /messages/* INTO $upstream');
    assert.equal(route.source.text, '/messages/*');
    assert.equal(route.condition.text, 'true');
    assert.deepEqual(route.sink, { kind: 'upstream', id: '$upstream' });
    assert.equal(route.condition.evaluate(message()), 'true');
  });

  it('accepts the optional SELECT * prefix', () => {
    assert.equal(compileRoute('r', 'SELECT * FROM /messages/* INTO $upstream').source.text, '/messages/*');
  });

  it('accepts keywords in any case', () => {
    const route = compileRoute('r', "select * from /messages/* where $connectionModuleId = 'filter' and true into $UPSTREAM");
    assert.equal(route.matches(message()), true);
  });

  it('ignores whitespace, newlines and comments between tokens', () => {
    const route = compileRoute('r', 'FROM\n  / messages /* all */ / modules / filter\tWHERE\r\n true INTO $upstream');
    assert.equal(route.source.text, '/messages/modules/filter');
  });

  it('keeps the condition text between WHERE and INTO', () => {
    const route = compileRoute('r', "FROM /messages/modules/filter WHERE a = 'x' AND /*c*/ b <> 'y' INTO $upstream");
    assert.equal(route.condition.text, "a = 'x' AND /*c*/ b <> 'y'");
  });

  it('lets the /* of FROM /* open a comment that runs to the next */, exactly as edgeHub lexes it', () => {
    // "/* WHERE a = 'x' AND /*c*/" is one comment, so the route reads FROM b <> 'y' … and fails.
    assert.throws(() => compileRoute('r', "FROM /* WHERE a = 'x' AND /*c*/ b <> 'y' INTO $upstream"), /source path starting with '\/'/);
  });

  it('parses BrokeredEndpoint with double quotes, single quotes and any case', () => {
    for (const sink of ['BrokeredEndpoint("/modules/infer/inputs/in1")', "brokeredendpoint('/modules/infer/inputs/in1')"]) {
      assert.deepEqual(compileRoute('r', `FROM /* INTO ${sink}`).sink, { kind: 'module', id: 'infer/in1', moduleId: 'infer', inputName: 'in1' });
    }
  });

  it('trims the BrokeredEndpoint address and drops one leading and one trailing slash', () => {
    const route = compileRoute('r', 'FROM /* INTO BrokeredEndpoint(" modules/infer/inputs/in1/ ")');
    assert.deepEqual(route.sink, { kind: 'module', id: 'infer/in1', moduleId: 'infer', inputName: 'in1' });
  });

  it('does not check the words modules/inputs in the address but warns about them', () => {
    const t = table({ r: 'FROM /* INTO BrokeredEndpoint("/mods/infer/ins/in1")' });
    assert.equal(t.routes[0]?.sink.id, 'infer/in1');
    assert.match(t.warnings[0]?.message ?? '', /does not read \/modules/);
  });

  it('ignores text after the sink, as edgeHub does, with a warning', () => {
    const t = table({ r: 'FROM /* INTO $upstream WHERE true' });
    assert.equal(t.routes.length, 1);
    assert.equal(t.warnings[0]?.routeName, 'r');
    assert.match(t.warnings[0]?.message ?? '', /ignored/);
  });

  it('accepts identifier characters such as - . and digits in module and output names', () => {
    const route = compileRoute('r', 'FROM /messages/modules/my-module.v2/outputs/out_1 INTO BrokeredEndpoint("/modules/a-b/inputs/in.1")');
    assert.deepEqual(route.source.selector, { kind: 'output', moduleId: 'my-module.v2', outputName: 'out_1' });
    assert.deepEqual(route.sink, { kind: 'module', id: 'a-b/in.1', moduleId: 'a-b', inputName: 'in.1' });
  });

  it('freezes compiled routes', () => {
    const route = compileRoute('r', 'FROM /* INTO $upstream');
    assert.ok(Object.isFrozen(route) && Object.isFrozen(route.source) && Object.isFrozen(route.sink));
  });
});

describe('routes: sources and prefix matching (§2.2)', () => {
  const sources = {
    leaf: { kind: 'telemetry', deviceId: 'leaf1' },
    sendEvent: { kind: 'telemetry', deviceId: 'dev1', moduleId: 'm' },
    outO: { kind: 'telemetry', deviceId: 'dev1', moduleId: 'm', outputName: 'o' },
    outO2: { kind: 'telemetry', deviceId: 'dev1', moduleId: 'm', outputName: 'o2' },
    otherModule: { kind: 'telemetry', deviceId: 'dev1', moduleId: 'm2', outputName: 'o' },
    twin: { kind: 'twinChangeNotification', deviceId: 'dev1', moduleId: 'm' },
  } as const;
  const matching = (from: string): string[] => {
    const route = compileRoute('r', `FROM ${from} INTO $upstream`);
    return Object.entries(sources)
      .filter(([, source]) => route.matches(message({ source: { moduleId: undefined, outputName: undefined, ...source } })))
      .map(([name]) => name);
  };

  it('computes message source paths as edgeHub does', () => {
    assert.equal(messageSourcePath(sources.leaf), '/messages');
    assert.equal(messageSourcePath(sources.sendEvent), '/messages/modules/m');
    assert.equal(messageSourcePath(sources.outO), '/messages/modules/m/outputs/o');
    assert.equal(messageSourcePath(sources.twin), '/twinChangeNotifications');
  });

  const table22: Array<[string, string[], string]> = [
    ['/*', ['leaf', 'sendEvent', 'outO', 'outO2', 'otherModule', 'twin'], 'all'],
    ['/messages/*', ['leaf', 'sendEvent', 'outO', 'outO2', 'otherModule'], 'allMessages'],
    ['/messages/modules/*', ['sendEvent', 'outO', 'outO2', 'otherModule'], 'allModuleMessages'],
    ['/messages/modules/m/*', ['sendEvent', 'outO', 'outO2'], 'module'],
    ['/messages/modules/m', ['sendEvent', 'outO', 'outO2'], 'module'],
    ['/messages/modules/m/outputs/*', ['outO', 'outO2'], 'moduleOutputs'],
    ['/messages/modules/m/outputs/o', ['outO'], 'output'],
    ['/twinChangeNotifications', ['twin'], 'twinChangeNotifications'],
  ];
  for (const [from, expected, kind] of table22) {
    it(`FROM ${from} matches ${expected.join(', ')}`, () => {
      assert.deepEqual(matching(from), expected);
      assert.equal(compileRoute('r', `FROM ${from} INTO $upstream`).source.selector.kind, kind);
    });
  }

  it('matches case-insensitively', () => {
    assert.deepEqual(matching('/MESSAGES/Modules/M/OUTPUTS/O'), ['outO']);
  });

  it('treats a * in the middle of the path literally (never matches) and warns', () => {
    assert.deepEqual(matching('/messages/modules/*/outputs/o'), []);
    const t = table({ r: 'FROM /messages/modules/*/outputs/o INTO $upstream' });
    assert.equal(t.routes[0]?.source.selector.kind, 'none');
    assert.match(t.warnings[0]?.message ?? '', /selects no message/);
  });

  it('does not let a module-name prefix match a longer name (the appended / is a segment boundary)', () => {
    assert.deepEqual(matching('/messages/modules/m2'), ['otherModule']);
    assert.deepEqual(matching('/messages/modules/m/outputs/o*'), ['outO']);
  });

  it('selects leaf-device telemetry with NOT IS_DEFINED($connectionModuleId)', () => {
    const route = compileRoute('r', 'FROM /messages/* WHERE NOT IS_DEFINED($connectionModuleId) INTO $upstream');
    const leafMsg = {
      source: { kind: 'telemetry' as const, deviceId: 'leaf1' },
      systemProperties: { connectionDeviceId: 'leaf1' },
      properties: {},
      body: Buffer.alloc(0),
    };
    assert.equal(route.matches(leafMsg), true);
    assert.equal(route.matches(message()), false);
  });
});
