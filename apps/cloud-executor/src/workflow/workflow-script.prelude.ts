import { LOOP_LINE_GLOBAL } from './workflow-script.instrument';

/**
 * Campaign's JavaScript API, as JavaScript source evaluated inside the QuickJS sandbox before each script
 * (docs/workflows.md, "JavaScript API"). It is a function of two arguments: `host(op, json)`, the one door to
 * the engine (synchronous from the script's side), and the input (variables, ids) as JSON text. It defines the
 * globals a Campaign workflow script expects and returns `collect()`, which the sandbox calls after the script
 * to read the variables back. `host` is never reachable from the script's own code.
 *
 * Values cross the door as JSON: XML documents are passed as strings, objects in the SDK's SimpleJson form.
 */
export const CAMPAIGN_PRELUDE = String.raw`(function (host, inputJson) {
  'use strict';
  // Taken now: a script that replaces JSON or Object.keys changes nothing for the API or for collect().
  var stringify = JSON.stringify, parseJson = JSON.parse, keys = Object.keys, freeze = Object.freeze, defineProperty = Object.defineProperty;
  var input = parseJson(inputJson);
  var G = globalThis;
  var failure = null;
  defineProperty(G, '${LOOP_LINE_GLOBAL}', { value: 0, writable: true, enumerable: false, configurable: false });

  function call(op, args) {
    var r = host(op, stringify(args));
    return r === undefined ? undefined : parseJson(r);
  }
  function show(v) {
    if (typeof v === 'string') return v;
    if (v instanceof Error) return String(v);
    if (v === undefined) return 'undefined';
    try { var s = stringify(v); return s === undefined ? String(v) : s; } catch (e) { return String(v); }
  }
  function log(level, args) {
    var parts = [];
    for (var i = 0; i < args.length; i++) parts.push(show(args[i]));
    var message = parts.join(' ');
    host('log', stringify([level, message]));
    return message;
  }
  function doc(v, what) {
    if (typeof v === 'string') return { xml: v };
    if (v !== null && typeof v === 'object') return { json: parseJson(stringify(v)) };
    throw new TypeError(what + ' must be an XML string or an object');
  }
  function optionalDoc(v, what) {
    return v === undefined || v === null || v === '' ? null : doc(v, what);
  }
  function freezeAll(o) {
    keys(o).forEach(function (k) { if (o[k] !== null && typeof o[k] === 'object') freezeAll(o[k]); });
    return freeze(o);
  }
  function define(name, value) {
    defineProperty(G, name, { value: value, writable: false, enumerable: true, configurable: false });
  }

  function createQuery(q) {
    var spec = doc(q, 'the queryDef');
    var run = function () { return call('query', spec); };
    return freeze({ ExecuteQuery: run, executeQuery: run });
  }
  function write(mode) {
    return function (d) {
      var r = call('write', { mode: mode, doc: doc(d, 'the document') });
      return mode === 'ingest' ? r : undefined;
    };
  }
  function postEvent(workflowId, activity, transition, variables, complete) {
    call('postEvent', {
      workflowId: String(workflowId),
      activity: String(activity),
      transition: transition === undefined || transition === null ? '' : String(transition),
      variables: optionalDoc(variables, 'the variables'),
      complete: complete === true || complete === 'true' || complete === 1
    });
  }
  function subscription(action) {
    return function (service, recipient, create) {
      call('subscription', { action: action, services: service === undefined || service === null ? '' : String(service), recipient: doc(recipient, 'the recipient'), create: create === true });
    };
  }
  function getOption(name) { return call('getOption', { name: String(name) }); }

  var vars = input.vars;
  var instance = { id: input.instance.id, internalName: input.instance.internalName, vars: input.instanceVars };
  var task = { id: input.task.id, activity: input.task.activity, vars: input.taskVars };
  define('vars', vars);
  define('instance', freeze(instance));
  define('task', freeze(task));

  var api = {
    xtk: {
      queryDef: { create: createQuery },
      session: { Write: write('write'), WriteCollection: write('writeCollection'), Ingest: write('ingest'), IngestExt: write('ingestExt') },
      workflow: { PostEvent: postEvent }
    },
    nms: { subscription: { Subscribe: subscription('subscribe'), Unsubscribe: function (s, r) { subscription('unsubscribe')(s, r, false); } } }
  };
  define('xtk', freezeAll(api.xtk));
  define('nms', freezeAll(api.nms));
  define('NLWS', freezeAll({
    xtkQueryDef: { create: createQuery },
    xtkSession: { write: write('write'), writeCollection: write('writeCollection'), ingest: write('ingest'), ingestExt: write('ingestExt') },
    xtkWorkflow: { postEvent: postEvent },
    nmsSubscription: { subscribe: api.nms.subscription.Subscribe, unsubscribe: api.nms.subscription.Unsubscribe }
  }));
  define('getOption', getOption);
  define('logInfo', function () { log('info', arguments); });
  define('logWarning', function () { log('warning', arguments); });
  define('logError', function () {
    var message = log('error', arguments);
    failure = message;
    throw new Error(message);
  });

  function clean(obj, scope, dropped) {
    var out = {};
    if (obj === null || typeof obj !== 'object') return out;
    var names = keys(obj);
    for (var i = 0; i < names.length; i++) {
      var k = names[i], v = obj[k];
      if (v === null || v === undefined) continue;
      if (typeof v === 'string' || typeof v === 'boolean') out[k] = v;
      else if (typeof v === 'number' && isFinite(v)) out[k] = v;
      else if (v instanceof Date && isFinite(v.getTime())) out[k] = v.toISOString();
      else dropped[dropped.length] = scope + k;
    }
    return out;
  }
  return {
    collect: function () {
      var dropped = [];
      return stringify({
        failure: failure,
        vars: clean(vars, 'vars.', dropped),
        instanceVars: clean(instance.vars, 'instance.vars.', dropped),
        taskVars: clean(task.vars, 'task.vars.', dropped),
        dropped: dropped
      });
    }
  };
})`;
