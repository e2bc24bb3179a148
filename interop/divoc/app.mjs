// DIVOC's verification app, its own scan -> verify -> display code, run outside the browser.
//
// The code is not copied here: it is read at run time from a DIVOC snapshot
// (verification-app/src/components/VerifyCertificate/index.js: `handleScan`;
// VcCertificateStatus/index.js: `verifyCertificate` and the `switch` on
// result.status.certificateStatus), and run with the packages the app pins (axios, jszip, installed
// by run.py from the snapshot's package-lock.json). React's state setters are recorders.
//
//   node app.mjs DIVOC_SNAPSHOT SERVER_URL CASES.json
//
// CASES.json: [{"name": ..., "scanned": <the text a QR reader gives for the certificate's QR>}].
// Prints one JSON line per case: what the app would display (valid / suspended / revoked / invalid)
// and the dates it would show.
import {readFileSync} from "node:fs";
import {join} from "node:path";
import {createRequire} from "node:module";

const [snapshot, server, casesFile] = process.argv.slice(2);
const require = createRequire(join(process.cwd(), "package.json"));
const axios = require("axios");
const JSZip = require("jszip");
axios.defaults.baseURL = server;

const app = join(snapshot, "verification-app", "src");
const scanSource = readFileSync(join(app, "components", "VerifyCertificate", "index.js"), "utf8");
const statusSource = readFileSync(join(app, "components", "VcCertificateStatus", "index.js"), "utf8");
const constants = readFileSync(join(app, "constants.js"), "utf8");
const CERTIFICATE_FILE = /CERTIFICATE_FILE\s*=\s*"([^"]+)"/.exec(constants)[1];

// The balanced block that starts at `start` (its first "{"), from `start` to its "}".
function block(source, start) {
    let depth = 0;
    for (let i = source.indexOf("{", start); i < source.length; i++) {
        if (source[i] === "{") depth++;
        if (source[i] === "}" && --depth === 0) return source.slice(start, i + 1);
    }
    throw new Error("unbalanced source");
}
function piece(source, marker) {
    const at = source.indexOf(marker);
    if (at < 0) throw new Error(`the snapshot has no "${marker}": is it DIVOC's verification app?`);
    return block(source, at);
}

const handleScanText = piece(scanSource, "const handleScan = data =>");
const verifyText = piece(statusSource, "async function verifyCertificate(data)");
const switchText = piece(statusSource, "switch (result.status.certificateStatus)");

// handleScan(data) calls setResult(text): the text VcCertificateStatus gets as certificateData
const scan = (data) => new Promise((resolve) => {
    const setResult = resolve;
    const handleScan = new Function("JSZip", "CERTIFICATE_FILE", "setResult",
        `${handleScanText.replace("const handleScan = ", "return ")}`)(JSZip, CERTIFICATE_FILE, setResult);
    handleScan(data);
});

// verifyData's body: JSON.parse, verifyCertificate, the switch; any throw shows the certificate invalid
const display = new Function("axios", `
    ${verifyText}
    return async function (certificateData) {
        const shown = {valid: false, revoked: false, suspended: false};
        const setValid = (v) => { shown.valid = v; };
        const setRevoked = (v) => { shown.revoked = v; };
        const setSuspended = (v) => { shown.suspended = v; };
        let suspensionDate = "", suspensionExpiry = "", revocationDate = "";
        try {
            const signedJSON = JSON.parse(certificateData);
            const result = await verifyCertificate(signedJSON);
            ${switchText}
        } catch (e) {
            setValid(false);
        }
        return {...shown, suspensionDate, suspensionExpiry, revocationDate};
    };`)(axios);

const cases = JSON.parse(readFileSync(casesFile, "utf8"));
for (const {name, scanned} of cases) {
    const certificateData = await scan(scanned);
    const shown = await display(certificateData);
    const word = shown.valid ? "valid" : shown.suspended ? "suspended" : shown.revoked ? "revoked" : "invalid";
    process.stdout.write("CASE " + JSON.stringify({name, shown: word, ...shown}) + "\n");
}
