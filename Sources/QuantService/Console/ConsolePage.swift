/// The console's files. Kept as Swift raw strings so the binary carries them and no build step
/// is needed; each is plain HTML, CSS or an ES module as a browser reads it.
enum ConsoleAssets {
    static let html = #"""
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>QuantService console</title>
        <link rel="stylesheet" href="/ui/console.css">
        <script type="module" src="/ui/console.js"></script>
        </head>
        <body>
        <header>
          <h1>QuantService</h1>
          <nav id="nav" aria-label="Sections" hidden>
            <a href="#/jobs">Jobs</a>
            <a href="#/models">Models</a>
            <a href="#/datasets">Datasets</a>
            <button id="sign-out" type="button">Sign out</button>
          </nav>
        </header>
        <main id="main" tabindex="-1"><p>Loading...</p></main>
        </body>
        </html>
        """#

    static let style = #"""
        :root { --ink: #1b1f24; --muted: #59636e; --line: #d0d7de; --accent: #0b5cad; --bad: #a40e26; font-family: system-ui, sans-serif; color: var(--ink); }
        body { margin: 0; }
        header { display: flex; align-items: center; gap: 2rem; padding: 0.5rem 1.5rem; border-bottom: 1px solid var(--line); }
        header h1 { font-size: 1.2rem; margin: 0; }
        nav { display: flex; gap: 1rem; align-items: center; }
        main { padding: 1rem 1.5rem; max-width: 75rem; }
        a { color: var(--accent); }
        a:focus, button:focus, input:focus, select:focus, textarea:focus { outline: 3px solid #f0b000; outline-offset: 1px; }
        table { border-collapse: collapse; margin: 0.5rem 0 1rem; font-variant-numeric: tabular-nums; }
        th, td { border-bottom: 1px solid var(--line); padding: 0.25rem 0.75rem; text-align: left; }
        td.number, th.number { text-align: right; }
        .error { color: var(--bad); font-weight: 600; }
        .muted { color: var(--muted); }
        form.stack { display: grid; gap: 0.5rem; max-width: 40rem; }
        textarea { font-family: ui-monospace, monospace; min-height: 8rem; }
        figure { margin: 1rem 0; }
        figcaption { font-weight: 600; margin-bottom: 0.25rem; }
        svg text { font-size: 11px; fill: var(--ink); }
        .cards { display: flex; flex-wrap: wrap; gap: 1rem; }
        .card { border: 1px solid var(--line); border-radius: 6px; padding: 0.5rem 1rem; }
        .card b { display: block; font-size: 1.3rem; }
        """#

    static let script = #"""
        // The QuantService console: one ES module, no dependencies. Views are chosen by the URL's hash
        // (#/jobs, #/jobs/ID, #/models); every request carries the API key from sessionStorage.
        const main = document.getElementById("main");
        const nav = document.getElementById("nav");
        const keyName = "quantservice.key";
        let stopPolling = () => {};

        class ProblemError extends Error {
          constructor(status, problem) {
            super(problem.detail || `HTTP ${status}`);
            this.status = status;
            this.problem = problem;
          }
        }

        function key() { return sessionStorage.getItem(keyName); }

        async function api(path, options = {}) {
          const headers = { Authorization: `Bearer ${key()}`, ...(options.headers || {}) };
          const response = await fetch(path, { ...options, headers });
          if (!response.ok) {
            let problem = {};
            try { problem = await response.json(); } catch (_) { problem = { detail: `HTTP ${response.status}` }; }
            // A refused key ends the session, except while signing in (the form says why).
            if (response.status === 401 && !options.signingIn) { signOut(problem.detail); }
            throw new ProblemError(response.status, problem);
          }
          const type = response.headers.get("Content-Type") || "";
          return type.includes("json") ? response.json() : response;
        }

        // Builds an element: el("td", {class: "number"}, "3.5", child...).
        function el(tag, attributes = {}, ...children) {
          const node = document.createElement(tag);
          for (const [name, value] of Object.entries(attributes)) {
            if (value === undefined || value === null || value === false) continue;
            if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
            else node.setAttribute(name, value === true ? "" : value);
          }
          for (const child of children.flat()) {
            if (child === undefined || child === null) continue;
            node.append(child instanceof Node ? child : document.createTextNode(String(child)));
          }
          return node;
        }

        function show(...nodes) {
          stopPolling();
          main.replaceChildren(...nodes);
          main.focus();
        }

        function number(value, digits = 2) {
          return typeof value === "number" && isFinite(value) ? value.toFixed(digits) : "-";
        }

        function bytes(value) {
          if (typeof value !== "number") return "-";
          const units = ["B", "KB", "MB", "GB", "TB"];
          let index = 0;
          while (value >= 1000 && index < units.length - 1) { value /= 1000; index++; }
          return `${value.toFixed(index ? 1 : 0)} ${units[index]}`;
        }

        function signOut(message) {
          sessionStorage.removeItem(keyName);
          nav.hidden = true;
          signIn(message);
        }

        function signIn(message) {
          const input = el("input", { id: "api-key", type: "password", autocomplete: "off", required: true });
          const error = el("p", { id: "sign-in-error", class: "error", role: "alert" }, message || "");
          const form = el("form", { class: "stack", onsubmit: async (event) => {
            event.preventDefault();
            sessionStorage.setItem(keyName, input.value.trim());
            try {
              await api("/v1/jobs?limit=1", { signingIn: true });
              nav.hidden = false;
              location.hash = "#/jobs";
              route();
            } catch (failure) {
              sessionStorage.removeItem(keyName);
              error.textContent = `The key was refused: ${failure.message}`;
              input.focus();
            }
          } },
            el("label", { for: "api-key" }, "API key"), input, el("button", { type: "submit" }, "Sign in"), error);
          show(el("h2", {}, "Sign in"), form);
          input.focus();
        }

        // Polls `load` until it returns false, waiting longer while nothing changes (1 s to 8 s). A
        // refusal (4xx: gone, not this tenant's) stops and is shown; a server or network failure retries.
        function poll(load, refused) {
          let stopped = false, delay = 1000, timer;
          const tick = async () => {
            if (stopped) return;
            let again = false;
            try { again = await load(); } catch (failure) {
              if (failure instanceof ProblemError && failure.status < 500) { refused(failure); return; }
              again = true;
            }
            if (!stopped && again) { timer = setTimeout(tick, delay); delay = Math.min(delay * 1.5, 8000); }
          };
          tick();
          stopPolling = () => { stopped = true; clearTimeout(timer); };
        }

        const active = (status) => status === "queued" || status === "running";

        async function cancel(id, after) {
          try { await api(`/v1/jobs/${id}/cancel`, { method: "POST" }); } catch (failure) { alert(failure.message); }
          after();
        }

        async function download(job) {
          const response = await api(`/v1/jobs/${job.id}/artifact`);
          const url = URL.createObjectURL(await response.blob());
          const name = (response.headers.get("Content-Disposition") || "").match(/filename="?([^";]+)"?/);
          const link = el("a", { href: url, download: name ? name[1] : `${job.id}.bin` });
          document.body.append(link);
          link.click();
          link.remove();
          setTimeout(() => URL.revokeObjectURL(url), 10000);
        }

        function jobsView() {
          const filter = el("select", { id: "status-filter", onchange: () => refresh() },
            ["", "queued", "running", "succeeded", "failed", "cancelled"].map((s) => el("option", { value: s }, s || "all")));
          const body = el("tbody", { id: "jobs" });
          const table = el("table", {},
            el("thead", {}, el("tr", {}, ["Job", "Name", "Status", "Progress", "Created", ""].map((h) => el("th", { scope: "col" }, h)))), body);
          let first = true;
          const refresh = async () => {
            const query = filter.value ? `&state=${filter.value}` : "";
            const { jobs } = await api(`/v1/jobs?limit=50${query}`);
            body.replaceChildren(...jobs.map((job) => el("tr", { "data-status": job.status },
              el("td", {}, el("a", { href: `#/jobs/${job.id}` }, job.id)),
              el("td", {}, job.name || ""),
              el("td", { class: "status" }, job.status),
              el("td", {}, job.progress ? el("progress", { max: 1, value: job.progress.fraction || 0, "aria-label": `progress of ${job.id}` }) : ""),
              el("td", {}, job.created_at),
              el("td", {}, active(job.status) ? el("button", { type: "button", onclick: () => cancel(job.id, refresh) }, "Cancel") : ""))));
            if (jobs.length === 0) body.append(el("tr", {}, el("td", { colspan: 6, class: "muted" }, "No jobs yet: upload a model under Models, then submit one.")));
            // Time from the page's navigation to the first filled list (the browser test reports it).
            if (first) { first = false; document.body.dataset.jobsListMs = String(Math.round(performance.now())); }
            return jobs.some((job) => active(job.status));
          };
          const error = el("p", { class: "error", role: "alert" });
          show(el("h2", {}, "Jobs"), el("label", { for: "status-filter" }, "Status "), filter, error, table);
          poll(refresh, (failure) => { error.textContent = failure.message; });
        }

        // A horizontal bar chart as SVG, with its numbers as a table below it.
        function barChart(title, rows, valueLabel, colourOf) {
          const width = 640, bar = 14, gap = 4, left = 220;
          const max = Math.max(...rows.map((r) => r.value), 1e-9);
          const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
          svg.setAttribute("width", width);
          svg.setAttribute("height", rows.length * (bar + gap) + 10);
          svg.setAttribute("role", "img");
          svg.setAttribute("aria-label", title);
          rows.forEach((row, index) => {
            const y = index * (bar + gap) + 5;
            const label = document.createElementNS(svg.namespaceURI, "text");
            label.setAttribute("x", left - 6); label.setAttribute("y", y + bar - 3); label.setAttribute("text-anchor", "end");
            label.textContent = row.label.length > 34 ? "..." + row.label.slice(-31) : row.label;
            const rect = document.createElementNS(svg.namespaceURI, "rect");
            rect.setAttribute("x", left); rect.setAttribute("y", y); rect.setAttribute("height", bar);
            rect.setAttribute("width", Math.max(1, (width - left - 70) * Math.max(0, row.value) / max));
            rect.setAttribute("fill", colourOf ? colourOf(row) : "#0b5cad");
            const value = document.createElementNS(svg.namespaceURI, "text");
            value.setAttribute("x", left + 4 + (width - left - 70) * Math.max(0, row.value) / max); value.setAttribute("y", y + bar - 3);
            value.textContent = number(row.value);
            svg.append(label, rect, value);
          });
          const table = el("table", {}, el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "Tensor"), el("th", { scope: "col", class: "number" }, valueLabel),
            rows.some((r) => r.group) ? el("th", { scope: "col" }, "Type") : null)),
            el("tbody", {}, rows.map((r) => el("tr", {}, el("td", {}, r.label), el("td", { class: "number" }, number(r.value)), r.group ? el("td", {}, r.group) : null))));
          return el("figure", { class: "chart" }, el("figcaption", {}, title), svg, el("details", {}, el("summary", {}, `${title}: the numbers`), table));
        }

        // A line chart of several series over x, as SVG with a table.
        function lineChart(title, xs, series) {
          const width = 640, height = 220, pad = 36;
          const values = series.flatMap((s) => s.values).filter((v) => typeof v === "number" && isFinite(v));
          const low = Math.min(...values), high = Math.max(...values, low + 1e-9);
          const x = (i) => pad + (width - 2 * pad) * (xs.length > 1 ? i / (xs.length - 1) : 0.5);
          const y = (v) => height - pad - (height - 2 * pad) * (v - low) / (high - low);
          const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
          svg.setAttribute("width", width); svg.setAttribute("height", height); svg.setAttribute("role", "img"); svg.setAttribute("aria-label", title);
          // The axes' ends, so a scaled-up wiggle is read for what it is.
          for (const [text, tx, ty, anchor] of [[number(high, 3), pad - 4, pad + 4, "end"], [number(low, 3), pad - 4, height - pad, "end"],
                                                [String(xs[0] ?? ""), pad, height - pad + 16, "start"], [String(xs[xs.length - 1] ?? ""), width - pad, height - pad + 16, "end"]]) {
            const label = document.createElementNS(svg.namespaceURI, "text");
            label.setAttribute("x", tx); label.setAttribute("y", ty); label.setAttribute("text-anchor", anchor);
            label.textContent = text;
            svg.append(label);
          }
          const axis = document.createElementNS(svg.namespaceURI, "polyline");
          axis.setAttribute("points", `${pad},${pad} ${pad},${height - pad} ${width - pad},${height - pad}`);
          axis.setAttribute("fill", "none"); axis.setAttribute("stroke", "#59636e");
          svg.append(axis);
          const dashes = ["", "6 3", "2 3"];
          series.forEach((s, index) => {
            const path = document.createElementNS(svg.namespaceURI, "polyline");
            path.setAttribute("points", s.values.map((v, i) => `${x(i)},${y(v)}`).join(" "));
            path.setAttribute("fill", "none"); path.setAttribute("stroke", ["#0b5cad", "#a40e26", "#1b1f24"][index % 3]);
            path.setAttribute("stroke-width", 2); path.setAttribute("stroke-dasharray", dashes[index % 3]);
            const legend = document.createElementNS(svg.namespaceURI, "text");
            legend.setAttribute("x", pad + 10 + index * 160); legend.setAttribute("y", 14); legend.textContent = `${["solid", "dashed", "dotted"][index % 3]}: ${s.name}`;
            svg.append(path, legend);
          });
          const table = el("table", {}, el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "x"), series.map((s) => el("th", { scope: "col", class: "number" }, s.name)))),
            el("tbody", {}, xs.map((value, i) => el("tr", {}, el("td", {}, value), series.map((s) => el("td", { class: "number" }, number(s.values[i], 4)))))));
          return el("figure", { class: "chart" }, el("figcaption", {}, title), svg, el("details", {}, el("summary", {}, `${title}: the numbers`), table));
        }

        // Colours that stay apart in greyscale: their lightness differs.
        const palette = ["#08306b", "#2171b5", "#6baed6", "#c6dbef", "#7f2704", "#f16913", "#fdae6b"];
        function colourFor(groups) {
          const names = [...new Set(groups)];
          return (row) => palette[names.indexOf(row.group) % palette.length];
        }

        function reportView(job, report) {
          const summary = report.summary || job.summary || {};
          const tensors = report.tensors || [];
          const parts = [el("div", { class: "cards" },
            el("div", { class: "card" }, "Size before", el("b", {}, bytes(summary.file_bytes_in))),
            el("div", { class: "card" }, "Size after", el("b", {}, bytes(summary.file_bytes_out))),
            el("div", { class: "card" }, "Bits per weight", el("b", {}, number(summary.bits_per_weight))),
            el("div", { class: "card" }, "Mean SQNR", el("b", {}, `${number(summary.mean_sqnr_db)} dB`)))];
          const measured = tensors.filter((t) => typeof t.sqnr_db === "number");
          if (measured.length) {
            const sorted = [...measured].sort((a, b) => a.sqnr_db - b.sqnr_db);
            parts.push(el("h3", {}, "Worst tensors"), el("ol", { id: "worst" }, sorted.slice(0, 5).map((t) => el("li", {}, `${t.name}: ${number(t.sqnr_db)} dB`))));
            parts.push(barChart("SQNR per tensor, worst first (dB)", sorted.map((t) => ({ label: t.name, value: t.sqnr_db })), "SQNR (dB)"));
            parts.push(lineChart("SQNR against the layer index", measured.map((t, i) => i), [{ name: "SQNR (dB)", values: measured.map((t) => t.sqnr_db) }]));
          }
          const sized = tensors.filter((t) => typeof t.bits_per_weight === "number");
          if (sized.length) {
            const groupOf = (t) => t.type || t.ggml_type || (t.method ? `${t.method}${t.bits ? " " + t.bits + "-bit" : ""}` : "kept");
            const rows = sized.map((t) => ({ label: t.name, value: t.bits_per_weight, group: groupOf(t) }));
            parts.push(barChart("Bits per weight per tensor, by type", rows, "bits/weight", colourFor(rows.map((r) => r.group))));
          }
          const training = report.training || {};
          const epochs = training.epochs || [];
          if (epochs.length) {
            parts.push(lineChart("QAT loss per epoch", epochs.map((e) => e.epoch),
              [{ name: "train loss", values: epochs.map((e) => e.train_loss) }, { name: "validation loss", values: epochs.map((e) => e.validation_loss) }]));
            if (epochs.some((e) => typeof e.validation_accuracy === "number")) {
              parts.push(lineChart("QAT validation accuracy per epoch", epochs.map((e) => e.epoch), [{ name: "accuracy", values: epochs.map((e) => e.validation_accuracy) }]));
            }
          }
          const results = { evaluation: report.evaluation || training.evaluation, calibration: report.calibration || summary.calibration };
          for (const [name, value] of Object.entries(results)) {
            if (!value || typeof value !== "object") continue;
            parts.push(el("h3", {}, name === "evaluation" ? "Evaluation" : "Calibration"),
              el("table", { id: name }, el("tbody", {}, Object.entries(value).filter(([, v]) => typeof v !== "object").map(([k, v]) =>
                el("tr", {}, el("th", { scope: "row" }, k), el("td", { class: "number" }, typeof v === "number" ? number(v, 4) : String(v)))))));
          }
          return parts;
        }

        async function jobView(id) {
          const header = el("div");
          const reportBox = el("div", { id: "report" });
          show(el("p", {}, el("a", { href: "#/jobs" }, "All jobs")), el("h2", {}, `Job ${id}`), header, reportBox);
          let shownReport = false;
          poll(async () => {
            const job = await api(`/v1/jobs/${id}`);
            const actions = [];
            if (active(job.status)) actions.push(el("button", { type: "button", id: "cancel", onclick: () => cancel(job.id, () => jobView(id)) }, "Cancel"));
            if (job.status === "succeeded" && job.artifact && job.artifact.available) {
              actions.push(el("button", { type: "button", id: "download", onclick: () => download(job) }, `Download (${bytes(job.artifact.size)})`));
            }
            header.replaceChildren(
              el("p", {}, "Status: ", el("strong", { id: "job-status" }, job.status),
                job.progress && active(job.status) ? el("progress", { max: 1, value: job.progress.fraction || 0, "aria-label": "progress" }) : ""),
              job.error ? el("p", { class: "error", role: "alert" }, `${job.error.code}: ${job.error.message}`) : "",
              el("div", {}, actions));
            if (!active(job.status) && !shownReport && job.links && job.links.report) {
              shownReport = true;
              try { reportBox.replaceChildren(...reportView(job, await api(`/v1/jobs/${id}/report`))); } catch (failure) { reportBox.replaceChildren(el("p", { class: "error" }, failure.message)); }
            }
            return active(job.status);
          }, (failure) => header.replaceChildren(el("p", { class: "error", role: "alert" }, failure.message)));
        }

        // Uploads with a progress bar: XMLHttpRequest reports upload progress, fetch does not.
        function upload(files, name, bar, path = "/v1/models") {
          return new Promise((resolve, reject) => {
            const form = new FormData();
            for (const file of files) form.append("file", file, file.name);
            const request = new XMLHttpRequest();
            request.open("POST", `${path}?name=${encodeURIComponent(name)}`);
            request.setRequestHeader("Authorization", `Bearer ${key()}`);
            request.upload.onprogress = (event) => { if (event.lengthComputable) bar.value = event.loaded / event.total; };
            request.onload = () => {
              let body = {};
              try { body = JSON.parse(request.responseText); } catch (_) {}
              if (request.status >= 200 && request.status < 300) resolve(body); else reject(new ProblemError(request.status, body));
            };
            request.onerror = () => reject(new Error("the upload failed (network)"));
            request.send(form);
          });
        }

        // An upload form for models or datasets: file, name, progress bar, and the server's error.
        function uploadForm(prefix, path, label, multiple, after) {
          const fileInput = el("input", { id: `${prefix}-file`, type: "file", multiple, required: true });
          const nameInput = el("input", { id: `${prefix}-name`, type: "text", required: true, value: `my-${prefix}` });
          const bar = el("progress", { id: `${prefix}-progress`, max: 1, value: 0, "aria-label": "upload progress" });
          const error = el("p", { id: `${prefix}-error`, class: "error", role: "alert" });
          return el("form", { class: "stack", onsubmit: async (event) => {
            event.preventDefault();
            error.textContent = "";
            try {
              await upload([...fileInput.files], nameInput.value, bar, path);
              after();
            } catch (failure) { error.textContent = failure.message; }
          } }, el("label", { for: `${prefix}-file` }, label), fileInput,
            el("label", { for: `${prefix}-name` }, "Name"), nameInput, el("button", { type: "submit" }, "Upload"), bar, error);
        }

        async function modelsView() {
          const { models } = await api("/v1/models");
          const rows = models.map((m) => el("tr", {},
            el("td", {}, m.id), el("td", {}, m.name), el("td", {}, m.format), el("td", { class: "number" }, bytes(m.size)),
            el("td", { class: "number" }, m.tensor_count), el("td", {}, el("a", { href: `#/models/${m.id}` }, "Submit a job"))));
          show(el("h2", {}, "Models"),
            el("table", {}, el("thead", {}, el("tr", {}, ["Model", "Name", "Format", "Size", "Tensors", ""].map((h) => el("th", { scope: "col" }, h)))), el("tbody", { id: "models" }, rows)),
            el("h3", {}, "Upload"), uploadForm("model", "/v1/models", "Model file, or a checkpoint's files", true, modelsView));
        }

        async function datasetsView() {
          const { datasets } = await api("/v1/datasets");
          show(el("h2", {}, "Datasets"),
            el("table", {}, el("thead", {}, el("tr", {}, ["Dataset", "Name", "Size", "Entries", "Created"].map((h) => el("th", { scope: "col" }, h)))),
              el("tbody", { id: "datasets" }, datasets.map((d) => el("tr", {},
                el("td", {}, d.id), el("td", {}, d.name), el("td", { class: "number" }, bytes(d.size)), el("td", { class: "number" }, d.tensor_count ?? "-"), el("td", {}, d.created_at))))),
            el("h3", {}, "Upload"),
            uploadForm("dataset", "/v1/datasets", "Calibration activations (safetensors), an importance matrix, or text (.txt, .jsonl)", false, datasetsView));
        }

        async function modelView(id) {
          const model = await api(`/v1/models/${id}`);
          const { tensors } = await api(`/v1/models/${id}/tensors`);
          const presets = await (await fetch("/ui/presets.json")).json();
          const preset = el("select", { id: "preset" }, presets.map((p) => el("option", { value: p.name, title: p.summary }, `${p.name}: ${p.summary}`)));
          const recipe = el("textarea", { id: "recipe", "aria-describedby": "recipe-help", spellcheck: "false" });
          const sync = () => { recipe.value = JSON.stringify({ preset: preset.value }, null, 2); };
          preset.addEventListener("change", sync);
          sync();
          const error = el("p", { id: "submit-error", class: "error", role: "alert" });
          const form = el("form", { class: "stack", onsubmit: async (event) => {
            event.preventDefault();
            error.textContent = "";
            let parsed;
            try { parsed = JSON.parse(recipe.value); } catch (failure) { error.textContent = `recipe: not JSON (${failure.message})`; recipe.focus(); return; }
            try {
              const job = await api("/v1/jobs", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ model_id: id, recipe: parsed }) });
              location.hash = `#/jobs/${job.id}`;
            } catch (failure) {
              const field = failure.problem && failure.problem.field;
              error.textContent = field ? `${field}: ${failure.message}` : failure.message;
              recipe.focus();
            }
          } }, el("label", { for: "preset" }, "Preset"), preset,
            el("label", { for: "recipe" }, "Recipe"), el("p", { id: "recipe-help", class: "muted" }, "The recipe sent with the job; edit it to override the preset."),
            recipe, error, el("button", { type: "submit" }, "Submit job"));
          show(el("p", {}, el("a", { href: "#/models" }, "All models")), el("h2", {}, `Model ${model.name} (${model.id})`), form,
            el("h3", {}, "Tensors"),
            el("table", {}, el("thead", {}, el("tr", {}, ["Tensor", "Type", "Shape", "Bytes"].map((h) => el("th", { scope: "col" }, h)))),
              el("tbody", {}, tensors.map((t) => el("tr", {}, el("td", {}, t.name), el("td", {}, t.dtype), el("td", {}, t.shape.join(" x ")), el("td", { class: "number" }, bytes(t.bytes)))))));
        }

        async function route() {
          if (!key()) return signIn();
          nav.hidden = false;
          const [, section, id] = (location.hash || "#/jobs").split("/");
          try {
            if (section === "models" && id) await modelView(id);
            else if (section === "models") await modelsView();
            else if (section === "datasets") await datasetsView();
            else if (section === "jobs" && id) await jobView(id);
            else jobsView();
          } catch (failure) {
            if (key()) show(el("p", { class: "error", role: "alert" }, failure.message));
          }
        }

        document.getElementById("sign-out").addEventListener("click", () => signOut());
        window.addEventListener("hashchange", route);
        route();
        """#
}
