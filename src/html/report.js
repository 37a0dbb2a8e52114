(function () {
  'use strict';
  var body = document.body;
  var t0 = performance.now();
  var errors = 0;
  function failed(e) {
    errors += 1;
    body.setAttribute('data-errors', String(errors));
    var why = e && (e.message || (e.reason && (e.reason.message || String(e.reason))));
    if (why) body.setAttribute('data-last-error', String(why));
  }
  window.addEventListener('error', failed);
  window.addEventListener('unhandledrejection', failed);

  function $(id) { return document.getElementById(id); }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = text;
    return e;
  }
  function bdi(text) { var b = el('bdi', null, text); b.dir = 'auto'; return b; }
  function fmt(x) { return x === null || x === undefined || !isFinite(x) ? '\u2013' : x.toFixed(2); }

  // Packed data (see syndic's html::pack): the page is windows-1252, one character per byte.
  var BYTE = new Int16Array(0x2200).fill(-1);
  (function () {
    var all = new Uint8Array(256);
    for (var i = 0; i < 256; i++) all[i] = i;
    var s = new TextDecoder('windows-1252').decode(all);
    for (var j = 0; j < 256; j++) BYTE[s.charCodeAt(j)] = j;
  })();
  function unpack(id) {
    var s = $(id).textContent, out = new Uint8Array(s.length), n = 0;
    for (var i = 1; i < s.length; i++) {
      var b = BYTE[s.charCodeAt(i)];
      if (b === 1) { i++; b = BYTE[s.charCodeAt(i)] - 0x40; }
      if (b < 0) throw new Error('bad packed data in ' + id);
      out[n++] = b;
    }
    var wide = s.charAt(0) === 'w';
    var z = new Blob([out.subarray(0, n)]).stream().pipeThrough(new DecompressionStream('deflate-raw'));
    return new Response(z).arrayBuffer().then(function (buf) {
      var text = new TextDecoder(wide ? 'windows-1256' : 'utf-8').decode(buf);
      if (!wide) return text;
      return text.replace(/&(amp|#[0-9]+);/g, function (_, e) {
        return e === 'amp' ? '&' : String.fromCodePoint(Number(e.slice(1)));
      });
    });
  }

  var meta = JSON.parse($('syndic-meta').textContent);
  var FLAGS = [[1, 'large'], [2, 'low'], [4, 'one source'], [8, 'family']];
  // A row: [id, size, sources, lowest similarity, lowest containment, family,
  //         clusters in the family, flags, first line, member ids, sources, chunk].
  var rows = [], hay = [], els = [];
  var list = $('rows');

  function start(text) {
    rows = JSON.parse(text);
    hay = rows.map(function (r) { return (r[9].join('\n') + '\n' + r[10].join('\n') + '\n' + r[8]).toLowerCase(); });

    // The table: every row built once, then moved (sort) or hidden (filter).
    var frag = document.createDocumentFragment();
    rows.forEach(function (r) {
      var a = el('a', 'cluster');
      a.href = '#c' + r[0];
      a.setAttribute('data-cluster-id', String(r[0]));
      a.setAttribute('role', 'row');
      a.appendChild(el('span', 'num', String(r[0])));
      a.appendChild(el('span', 'num', String(r[1])));
      a.appendChild(el('span', 'num', String(r[2])));
      a.appendChild(el('span', 'num', fmt(r[3])));
      a.appendChild(el('span', 'num', fmt(r[4])));
      a.appendChild(el('span', 'num', r[5] + (r[6] > 1 ? ' (' + r[6] + ')' : '')));
      var f = el('span');
      FLAGS.forEach(function (fl) { if (r[7] & fl[0]) f.appendChild(el('span', 'flag', fl[1])); });
      a.appendChild(f);
      var first = el('span', 'first');
      first.dir = 'auto';
      first.appendChild(bdi(r[8]));
      a.appendChild(first);
      els.push(a);
      frag.appendChild(a);
    });
    // Past a few thousand rows, the browser lays out only the rows in view.
    if (rows.length > 2000) list.classList.add('many');
    list.appendChild(frag);
    order = rows.map(function (_, i) { return i; });
  }

  var order = [];
  document.querySelectorAll('.thead button').forEach(function (b) {
    b.addEventListener('click', function () {
      var k = Number(b.getAttribute('data-sort'));
      var dir = b.getAttribute('data-dir') === 'desc' ? 'asc' : 'desc';
      document.querySelectorAll('.thead button').forEach(function (o) { o.removeAttribute('data-dir'); });
      b.setAttribute('data-dir', dir);
      var s = dir === 'asc' ? 1 : -1;
      order.sort(function (x, y) {
        var a = rows[x][k], c = rows[y][k];
        if (a === null) a = Infinity;
        if (c === null) c = Infinity;
        var d = typeof a === 'string' ? a.localeCompare(c) : a - c;
        return d !== 0 ? s * d : x - y;
      });
      var fr = document.createDocumentFragment();
      order.forEach(function (i) { fr.appendChild(els[i]); });
      list.appendChild(fr);
    });
  });

  // Cluster details: deflated chunks of JSON lines, inflated on demand.
  var chunks = {};
  function chunk(k) {
    if (!chunks[k]) chunks[k] = unpack('z' + k).then(function (s) { return s.split('\n'); });
    return chunks[k];
  }
  function detail(id) {
    var k = rows[id][11];
    return chunk(k).then(function (lines) { return lines[id - meta.chunks[k]]; });
  }

  // Filters and search.
  var textHits = null;
  var textQuery = '';
  function num(id) { var v = $(id).value; return v === '' ? null : Number(v); }
  function applyFilters() {
    var q = $('q').value.trim().toLowerCase();
    var size = num('fsize'), sim = num('fsim'), src = num('fsrc'), fam = num('ffam');
    var sus = $('fflag').checked;
    var shown = 0;
    for (var i = 0; i < rows.length; i++) {
      var r = rows[i];
      var ok = (size === null || r[1] >= size) && (sim === null || (r[3] !== null && r[3] <= sim)) &&
        (src === null || r[2] >= src) && (fam === null || r[5] === fam) && (!sus || r[7] !== 0);
      if (ok && q) ok = hay[i].indexOf(q) >= 0 || (textHits !== null && textHits.has(i));
      els[i].hidden = !ok;
      if (ok) shown++;
    }
    $('shown').textContent = shown === rows.length ? String(rows.length) : shown + ' of ' + rows.length;
  }
  function searchTexts() {
    var q = $('q').value.trim();
    if (!$('qtext').checked || !q) { textHits = null; applyFilters(); return; }
    textQuery = q;
    // Match the JSON text of each cluster's details, escaped as the page stores it.
    var needle = JSON.stringify(q).slice(1, -1);
    var ks = meta.chunks.map(function (_, k) { return k; });
    Promise.all(ks.map(chunk)).then(function (all) {
      if (textQuery !== q) return;
      var hits = new Set();
      all.forEach(function (lines, k) {
        lines.forEach(function (line, j) { if (line.indexOf(needle) >= 0) hits.add(meta.chunks[k] + j); });
      });
      textHits = hits;
      applyFilters();
    });
  }
  var timer = null;
  $('filters').addEventListener('input', function () {
    clearTimeout(timer);
    timer = setTimeout(function () { textHits = null; applyFilters(); searchTexts(); }, 150);
  });
  $('filters').addEventListener('submit', function (e) { e.preventDefault(); });

  // The cluster view.
  function lines(text, bp) {
    var box = el('div', 'text');
    box.dir = 'auto';
    var flagged = new Set(bp);
    text.split('\n').forEach(function (l, i) {
      var d = el('div', flagged.has(i) ? 'line boilerplate' : 'line', l);
      d.dir = 'auto';
      box.appendChild(d);
    });
    return box;
  }
  // A member as operations on the representative: n >= 0 keeps n UTF-16 units of it, n < 0
  // deletes -n units, a string is inserted. Lines are the member's own (its flagged lines marked).
  function diff(rep, ops, bp) {
    var box = el('div', 'text diff');
    box.dir = 'auto';
    var flagged = new Set(bp);
    var n = 0, pos = 0, cur = null;
    function line() {
      cur = el('div', flagged.has(n) ? 'line boilerplate' : 'line');
      cur.dir = 'auto';
      box.appendChild(cur);
    }
    line();
    function put(tag, s) {
      if (tag === 'del') { cur.appendChild(el('del', null, s.replace(/\n/g, ' \u00b6 '))); return; }
      var parts = s.split('\n');
      for (var i = 0; i < parts.length; i++) {
        if (i > 0) { n += 1; line(); }
        if (parts[i]) cur.appendChild(tag ? el(tag, null, parts[i]) : document.createTextNode(parts[i]));
      }
    }
    ops.forEach(function (op) {
      if (typeof op === 'string') { put('ins', op); } else if (op >= 0) {
        put('', rep.substr(pos, op)); pos += op;
      } else { put('del', rep.substr(pos, -op)); pos -= op; }
    });
    return box;
  }
  function metaLine(m, rep) {
    var d = el('div', 'meta');
    var id = el('b');
    id.appendChild(bdi(m.id));
    d.appendChild(id);
    var s = el('span', null, 'source ');
    s.appendChild(bdi(m.src === null ? '\u2013' : m.src));
    d.appendChild(s);
    if (m.date) d.appendChild(el('span', null, 'date ' + m.date));
    if (rep) {
      d.appendChild(el('span', null, 'representative (kept)'));
    } else {
      d.appendChild(el('span', null, 'similarity ' + fmt(m.sim)));
      d.appendChild(el('span', null, 'containment ' + fmt(m.cont)));
      d.appendChild(el('span', null, 'joined by ' + m.why));
    }
    return d;
  }
  var opened = null;
  function open(id) {
    var view = $('view');
    var t = performance.now();
    return detail(id).then(function (json) {
      var d = JSON.parse(json);
      var r = rows[id];
      view.textContent = '';
      var bar = el('div', 'bar');
      bar.appendChild(el('h2', null, 'Cluster ' + id));
      bar.appendChild(el('span', null, r[1] + ' members, ' + r[2] + ' sources, family ' + r[5] +
        (r[6] > 1 ? ' (' + r[6] + ' clusters)' : '')));
      FLAGS.forEach(function (fl) { if (r[7] & fl[0]) bar.appendChild(el('span', 'flag', fl[1])); });
      var close = el('a', 'close', 'close \u2715');
      close.href = '#clusters';
      bar.appendChild(close);
      view.appendChild(bar);
      var frag = document.createDocumentFragment();
      var ids = r[9], srcs = r[10];
      d.members.forEach(function (a, i) {
        var m = { id: ids[i], src: srcs[a[0]] || null, date: a[1], sim: a[2], cont: a[3], exact: a[4],
          why: a[5], bp: a[6], ops: a[7] };
        var card = el('article', 'doc');
        card.setAttribute('data-doc-id', m.id);
        var isRep = m.ops === null;
        if (isRep) card.classList.add('representative');
        card.appendChild(metaLine(m, isRep));
        if (isRep) {
          card.appendChild(lines(d.text, m.bp));
        } else {
          card.appendChild(diff(d.text, m.ops, m.bp));
        }
        frag.appendChild(card);
      });
      view.appendChild(frag);
      view.hidden = false;
      if (opened !== null) els[opened].classList.remove('open');
      opened = id;
      els[id].classList.add('open');
      view.setAttribute('data-cluster-id', String(id));
      view.setAttribute('data-open-ms', (performance.now() - t).toFixed(1));
      view.scrollTop = 0;
    });
  }
  function route() {
    var m = /^#c(\d+)$/.exec(location.hash);
    if (m && Number(m[1]) < rows.length) return open(Number(m[1]));
    $('view').hidden = true;
    if (opened !== null) els[opened].classList.remove('open');
    opened = null;
    return Promise.resolve();
  }
  window.addEventListener('hashchange', function () { route(); });
  document.addEventListener('keydown', function (e) {
    if (e.key === 'Escape' && opened !== null) location.hash = '#clusters';
  });

  unpack('zr').then(function (text) {
    start(text);
    applyFilters();
    return route();
  }).then(function () {
    body.setAttribute('data-ready-ms', (performance.now() - t0).toFixed(0));
    body.setAttribute('data-ready', '1');
  });
})();
