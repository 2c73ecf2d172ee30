/* Keyset pager: remembers the cursors of the pages seen so "newer" can go back; page 1 has no cursor.
   With els.size (the <prefix>-size select of templates/_pager.html: 20/50/100 rows) the pager passes the
   chosen size to load(cursor, size), starts again at page 1 when it changes, and remembers it per page. */
"use strict";
(function () {
  const A = window.ARBIG;
  A.PAGE_SIZES = [20, 50, 100];
  A.Pager = function (load, render, els) {
    const cursors = [null];
    let page = 0, next = null;
    const sizeKey = els.size ? "arbig.pageSize." + document.body.dataset.page + "." + els.size.id : null;
    function size() { return els.size ? Number(els.size.value) : undefined; }
    async function show(i) {
      const res = await load(cursors[i], size());
      if (res.status !== 200) { render(null, res); return; }
      page = i; next = res.body.next_cursor;
      if (next && cursors.length === i + 1) cursors.push(next);
      render(res.body.items, res);
      els.newer.disabled = page === 0;
      els.older.disabled = !next;
      els.label.textContent = A.t("page", { n: page + 1 });
    }
    function reset() { cursors.length = 1; return show(0); }
    els.newer.onclick = () => { if (page > 0) show(page - 1); };
    els.older.onclick = () => { if (next) show(page + 1); };
    if (els.size) {
      const saved = localStorage.getItem(sizeKey);
      if (saved && A.PAGE_SIZES.includes(Number(saved))) els.size.value = saved;
      els.size.onchange = () => { localStorage.setItem(sizeKey, els.size.value); reset(); };
    }
    return {
      reset,
      reload() { return show(page); },
      onFirstPage() { return page === 0; },
      size,
    };
  };
})();
