import { ASYNC_CALL_GLOBAL, LOOP_LINE_GLOBAL } from './workflow-script.instrument';

/**
 * Campaign's JavaScript API, as JavaScript source evaluated inside the QuickJS sandbox before each script
 * (docs/workflows.md, "JavaScript API"). It is a function of two arguments: `host(op, json)`, the one door to
 * the engine (synchronous from the script's side), and the input (variables, ids, the variables limit) as JSON
 * text. It defines the globals a Campaign workflow script expects and returns `collect()`, which the sandbox
 * calls after the script to read the variables back, and `failure()` (the message of logError(), or null).
 * `host` is never reachable from the script's own code.
 *
 * Everything sent to the engine is JSON text built here from built-ins taken before the script runs, so that a
 * script replacing JSON, Object.keys or Array.prototype.join, or putting toJSON on the prototypes, cannot
 * reshape the envelope (documents the script passes are its own data: their toJSON applies). The engine
 * still trusts none of it: each crossing is parsed and checked on its side (workflow-script.crossing.ts).
 *
 * The bindings (`xtk`, `vars`, `logInfo`…) are read-only: assigning one throws a TypeError, as does changing an
 * API object (frozen, behind a proxy that refuses writes); the variables objects stay the script's to change.
 *
 * Promises are watched so that a rejection nothing handles fails the script: `Promise` is a subclass that
 * records its rejections and marks a promise handled when `then` (so `catch`, `finally`, `await`) is called on
 * it, and async functions — rewritten by trackAsyncFunctions (workflow-script.instrument.ts) — hand their
 * promise to `__capAsync`, which returns such a promise.
 */
export const CAMPAIGN_PRELUDE = String.raw`(function (host, inputJson) {
  'use strict';
  // Taken now: a script that replaces or reshapes these later changes nothing for the API or for collect().
  var stringify = JSON.stringify, parseJson = JSON.parse, keys = Object.keys, freeze = Object.freeze,
    defineProperty = Object.defineProperty, apply = Reflect.apply, isFiniteNumber = Number.isFinite, toText = String,
    ErrorType = Error, TypeErrorType = TypeError, ProxyType = Proxy, NativePromise = Promise,
    nativeThen = Promise.prototype.then, WeakSetType = WeakSet, weakAdd = WeakSet.prototype.add,
    weakHas = WeakSet.prototype.has, dateTime = Date.prototype.getTime, dateIso = Date.prototype.toISOString,
    species = Symbol.species;
  var input = parseJson(inputJson);
  var maxBytes = input.variablesMaxBytes;
  var G = globalThis;
  var failure = null;
  defineProperty(G, '${LOOP_LINE_GLOBAL}', { value: 0, writable: true, enumerable: false, configurable: false });

  // --- JSON text for the engine: strings are primitives (no toJSON is consulted for them) ---
  function str(v) { return stringify(toText(v)); }
  function jsonOf(v, what) {
    var s = stringify(v);
    if (typeof s !== 'string') throw new TypeErrorType(what + ' cannot be written as JSON');
    return s;
  }
  /** A JSON object from name / JSON text pairs. */
  function obj() {
    var s = '{';
    for (var i = 0; i < arguments.length; i += 2) s += (i === 0 ? '' : ',') + stringify(arguments[i]) + ':' + arguments[i + 1];
    return s + '}';
  }

  function call(op, payload) {
    var r = host(op, payload);
    return r === undefined ? undefined : parseJson(r);
  }
  function show(v) {
    if (typeof v === 'string') return v;
    if (v === undefined) return 'undefined';
    if (v instanceof ErrorType) return toText(v);
    try { var s = stringify(v); return typeof s === 'string' ? s : toText(v); } catch (e) { return toText(v); }
  }
  function log(level, args) {
    var message = '';
    for (var i = 0; i < args.length; i++) message += (i === 0 ? '' : ' ') + show(args[i]);
    host('log', '[' + stringify(level) + ',' + stringify(message) + ']');
    return message;
  }
  function doc(v, what) {
    if (typeof v === 'string') return obj('xml', stringify(v));
    if (v !== null && typeof v === 'object') return obj('json', jsonOf(v, what));
    throw new TypeErrorType(what + ' must be an XML string or an object');
  }
  function optionalDoc(v, what) {
    return v === undefined || v === null || v === '' ? 'null' : doc(v, what);
  }

  // --- read-only bindings and API objects ---
  function refuse(name) { throw new TypeErrorType("'" + name + "' is read-only"); }
  var lockTraps = freeze({
    set: function (target, key) { refuse(toText(key)); },
    defineProperty: function (target, key) { refuse(toText(key)); },
    deleteProperty: function (target, key) { refuse(toText(key)); },
    setPrototypeOf: function () { refuse('__proto__'); }
  });
  /** Frozen, behind a proxy whose writes throw (sloppy-mode scripts would otherwise fail silently). */
  function lockOne(o) { return new ProxyType(freeze(o), lockTraps); }
  /** The same for an object of the API and everything in it (functions are frozen too). */
  function lockAll(o) {
    var names = keys(o);
    for (var i = 0; i < names.length; i++) {
      var v = o[names[i]];
      if (typeof v === 'function') freeze(v);
      else if (v !== null && typeof v === 'object') o[names[i]] = lockAll(v);
    }
    return lockOne(o);
  }
  function define(name, value) {
    defineProperty(G, name, { get: function () { return value; }, set: function () { refuse(name); }, enumerable: true, configurable: false });
  }

  // --- promises: rejections nothing handles fail the script ---
  var handled = new WeakSetType();
  var rejected = null; // newest first: { promise, reason, next }
  var observing = false;
  class TrackedPromise extends NativePromise {
    constructor(executor) {
      super(executor);
      var self = this;
      observing = true;
      try {
        apply(nativeThen, self, [undefined, function (reason) { rejected = { promise: self, reason: reason, next: rejected }; }]);
      } finally {
        observing = false;
      }
    }
    then(onFulfilled, onRejected) {
      apply(weakAdd, handled, [this]);
      return apply(nativeThen, this, [onFulfilled, onRejected]);
    }
    // The observer's own derived promise is a plain one (else each promise would watch itself without end).
    static get [species]() { return observing ? NativePromise : TrackedPromise; }
  }
  defineProperty(G, 'Promise', { value: TrackedPromise, writable: true, enumerable: false, configurable: true });
  defineProperty(G, '${ASYNC_CALL_GLOBAL}', {
    value: function (args, fn) {
      var p = apply(fn, undefined, args);
      return new TrackedPromise(function (resolve, reject) { apply(nativeThen, p, [resolve, reject]); });
    },
    writable: false, enumerable: false, configurable: false
  });
  function unhandledRejection() {
    var found = null;
    for (var r = rejected; r !== null; r = r.next) if (!apply(weakHas, handled, [r.promise])) found = r;
    if (found === null) return 'null';
    var e = found.reason, name = 'Error', message, stack = '';
    try {
      if (e instanceof ErrorType) {
        name = toText(e.name);
        message = e.message === undefined ? '' : toText(e.message);
        stack = typeof e.stack === 'string' ? e.stack : '';
      } else message = show(e);
    } catch (x) {
      message = 'a value that cannot be read';
    }
    return obj('name', stringify(name), 'message', stringify(message), 'stack', stringify(stack));
  }

  // --- the API ---
  function createQuery(q) {
    var spec = doc(q, 'the queryDef');
    var run = function () { return call('query', spec); };
    return lockOne({ ExecuteQuery: freeze(run), executeQuery: run });
  }
  function write(mode) {
    return function (d) {
      var r = call('write', obj('mode', stringify(mode), 'doc', doc(d, 'the document')));
      return mode === 'ingest' ? r : undefined;
    };
  }
  function postEvent(workflowId, activity, transition, variables, complete) {
    call('postEvent', obj(
      'workflowId', str(workflowId),
      'activity', str(activity),
      'transition', transition === undefined || transition === null ? '""' : str(transition),
      'variables', optionalDoc(variables, 'the variables'),
      'complete', complete === true || complete === 'true' || complete === 1 ? 'true' : 'false'
    ));
  }
  function subscription(action) {
    return function (service, recipient, create) {
      call('subscription', obj(
        'action', stringify(action),
        'services', service === undefined || service === null ? '""' : str(service),
        'recipient', doc(recipient, 'the recipient'),
        'create', create === true ? 'true' : 'false'
      ));
    };
  }
  function getOption(name) { return call('getOption', obj('name', str(name))); }

  var vars = input.vars, instanceVars = input.instanceVars, taskVars = input.taskVars;
  define('vars', vars);
  define('instance', lockOne({ id: input.instance.id, internalName: input.instance.internalName, vars: instanceVars }));
  define('task', lockOne({ id: input.task.id, activity: input.task.activity, vars: taskVars }));

  var subscribe = subscription('subscribe');
  var unsubscribe = function (s, r) { subscription('unsubscribe')(s, r, false); };
  define('xtk', lockAll({
    queryDef: { create: createQuery },
    session: { Write: write('write'), WriteCollection: write('writeCollection'), Ingest: write('ingest'), IngestExt: write('ingestExt') },
    workflow: { PostEvent: postEvent }
  }));
  define('nms', lockAll({ subscription: { Subscribe: subscribe, Unsubscribe: unsubscribe } }));
  define('NLWS', lockAll({
    xtkQueryDef: { create: createQuery },
    xtkSession: { write: write('write'), writeCollection: write('writeCollection'), ingest: write('ingest'), ingestExt: write('ingestExt') },
    xtkWorkflow: { postEvent: postEvent },
    nmsSubscription: { subscribe: subscribe, unsubscribe: unsubscribe }
  }));
  define('getOption', freeze(getOption));
  define('logInfo', freeze(function () { log('info', arguments); }));
  define('logWarning', freeze(function () { log('warning', arguments); }));
  define('logError', freeze(function () {
    var message = log('error', arguments);
    failure = message;
    throw new ErrorType(message);
  }));

  // --- the variables, back to the engine ---
  var dropped, over;
  function isDate(v) {
    try { apply(dateTime, v, []); return true; } catch (e) { return false; }
  }
  /**
   * JSON text of one scope as [name, value] pairs, or null once it is over the limit (the size counted is the
   * scope as a JSON object, in characters: never more than its UTF-8 bytes, which the engine counts exactly).
   */
  function pairs(o, scope) {
    var s = '[', size = 2, n = 0;
    if (o === null || typeof o !== 'object') return s + ']';
    var names = keys(o);
    for (var i = 0; i < names.length; i++) {
      var k = names[i], v = o[k], t = undefined;
      if (v === null || v === undefined) continue;
      if (k === '__proto__') t = undefined;
      else if (typeof v === 'string') {
        if (v.length > maxBytes) { over = obj('scope', stringify(scope), 'name', stringify(k)); return null; }
        t = stringify(v);
      } else if (typeof v === 'boolean') t = v ? 'true' : 'false';
      else if (typeof v === 'number') t = isFiniteNumber(v) ? stringify(v) : undefined;
      else if (typeof v === 'object' && isDate(v)) t = isFiniteNumber(apply(dateTime, v, [])) ? stringify(apply(dateIso, v, [])) : undefined;
      if (t === undefined) {
        dropped += (dropped === '' ? '' : ',') + stringify(scope + '.' + k);
        continue;
      }
      var name = stringify(k);
      size += (n === 0 ? 0 : 1) + name.length + 1 + t.length;
      if (size > maxBytes) { over = obj('scope', stringify(scope), 'name', stringify(k)); return null; }
      s += (n++ === 0 ? '[' : ',[') + name + ',' + t + ']';
    }
    return s + ']';
  }
  return {
    collect: function () {
      dropped = '';
      over = null;
      var v = pairs(vars, 'vars');
      var iv = v === null ? null : pairs(instanceVars, 'instance.vars');
      var tv = iv === null ? null : pairs(taskVars, 'task.vars');
      if (tv === null) return obj('overLimit', over);
      return obj(
        'failure', failure === null ? 'null' : stringify(failure),
        'rejection', unhandledRejection(),
        'vars', v, 'instanceVars', iv, 'taskVars', tv,
        'dropped', '[' + dropped + ']'
      );
    },
    failure: function () { return failure; }
  };
})`;
