/* Keyset pager: remembers the cursors of the pages seen so "newer" can go back; page 1 has no cursor. */
"use strict";
(function () {
  const A = window.ARBIG;
  A.Pager = function (load, render, els) {
    const cursors = [null];
    let page = 0, next = null;
    async function show(i) {
      const res = await load(cursors[i]);
      if (res.status !== 200) { render(null, res); return; }
      page = i; next = res.body.next_cursor;
      if (next && cursors.length === i + 1) cursors.push(next);
      render(res.body.items, res);
      els.newer.disabled = page === 0;
      els.older.disabled = !next;
      els.label.textContent = A.t("page", { n: page + 1 });
    }
    els.newer.onclick = () => { if (page > 0) show(page - 1); };
    els.older.onclick = () => { if (next) show(page + 1); };
    return {
      reset() { cursors.length = 1; return show(0); },
      reload() { return show(page); },
      onFirstPage() { return page === 0; },
    };
  };
})();
