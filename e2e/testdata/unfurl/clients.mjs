// Runs the link-preview and oEmbed consumers a person's tools would use on
// each URL given on the command line, and prints what each saw as JSON:
// open-graph-scraper (the Open Graph reader behind many chat and CMS
// previews) and unfurl.js (which discovers the oEmbed link in the page and
// fetches it, as a blog engine does with a bare link).
import ogs from "open-graph-scraper";
import { unfurl } from "unfurl.js";

const out = [];
for (const url of process.argv.slice(2)) {
  const r = { url };
  try {
    const { error, result } = await ogs({ url, timeout: 20 });
    r.ogs = error ? { error: String(error) } : result;
  } catch (e) {
    r.ogs = { error: String(e && e.result ? JSON.stringify(e.result) : e) };
  }
  try {
    r.unfurl = await unfurl(url, { oembed: true, timeout: 20000 });
  } catch (e) {
    r.unfurl = { error: String(e) };
  }
  out.push(r);
}
process.stdout.write(JSON.stringify(out));
