// fieldpage.mjs — what the field app's browser tests share.
//
//   await show(page, '#/s/ID');   // the app at that address, drawn
//
// The app draws a view after awaiting IndexedDB, so right after a change of
// address the previous view can still be on screen: a click then would land
// on the previous person's buttons. show() waits until #view says it shows
// the new address (app.js sets data-route when a draw completes).

const WAIT = 10e3;

export async function show(page, hash) {
  await page.goto(page.url().split('#')[0] + hash);
  await page.locator(`#view[data-route="${hash}"]`).waitFor({ state: 'attached', timeout: WAIT });
}
