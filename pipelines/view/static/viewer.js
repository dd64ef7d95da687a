// Nav-bundle viewer: shows one published day's PMTiles archive with MapLibre GL JS.
//
// Everything is fetched from the same origin (`chargepoints view` serves this folder at / and
// the publish folder at /publish/): no basemap, no fonts, no request to the internet.
//
// Query parameters: ?day=YYYY-MM-DD (default: publish/latest.json's date).
"use strict";

(function () {
  const PUBLISH = "publish/";
  const COLORS = { dc: "#e4572e", ac: "#2e86de", mixed: "#8e44ad" };
  const FALLBACK_COLOR = "#9e9e9e";
  const BACKGROUND = "#1d2733";
  // extra radius of a low-zoom dot standing for `point_count` sites
  const EXTRA = ["*", 2, ["sqrt", ["-", ["coalesce", ["get", "point_count"], 1], 1]]];

  // Exposed for tests and for curious users in the browser console.
  const state = (window.viewerState = { status: "loading", day: null, layers: [], error: null });

  function setStatus(status) {
    state.status = status;
    document.body.dataset.status = status;
  }

  function fail(message) {
    state.error = message;
    setStatus("error");
    const summary = document.getElementById("summary");
    summary.textContent = message;
    summary.className = "error";
  }

  async function fetchJson(path) {
    const response = await fetch(path, { cache: "no-cache" });
    if (!response.ok) {
      throw new Error(`${path}: HTTP ${response.status}`);
    }
    return response.json();
  }

  function escapeHtml(value) {
    return String(value).replace(
      /[&<>"']/g,
      (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c],
    );
  }

  /** Lines every `step` degrees, as a GeoJSON FeatureCollection (drawn without labels: no fonts). */
  function graticule(step) {
    const features = [];
    for (let lon = -180; lon <= 180; lon += step) {
      features.push({
        type: "Feature",
        properties: { major: lon % 10 === 0 },
        geometry: { type: "LineString", coordinates: [[lon, -85], [lon, 85]] },
      });
    }
    for (let lat = -80; lat <= 80; lat += step) {
      features.push({
        type: "Feature",
        properties: { major: lat % 10 === 0 },
        geometry: { type: "LineString", coordinates: [[-180, lat], [180, lat]] },
      });
    }
    return { type: "FeatureCollection", features };
  }

  function siteLayers(sourceLayers) {
    const color = ["match", ["get", "power_class"]];
    for (const [cls, value] of Object.entries(COLORS)) {
      color.push(cls, value);
    }
    color.push(FALLBACK_COLOR);
    return sourceLayers.map((sourceLayer) => ({
      id: `sites-${sourceLayer}`,
      type: "circle",
      source: "sites",
      "source-layer": sourceLayer,
      paint: {
        "circle-color": color,
        // below the bundle's full-detail zoom a site may stand for `point_count` nearby sites
        // (zoom may only drive a top-level interpolate, so the extra size sits in each stop)
        "circle-radius": ["interpolate", ["linear"], ["zoom"]].concat(
          ...[[0, 3], [8, 5], [14, 9], [18, 12]].map(([z, r]) => [z, ["+", r, EXTRA]]),
        ),
        "circle-opacity": ["case", ["==", ["get", "status"], "stale"], 0.45, 1.0],
        "circle-stroke-color": ["case", ["==", ["get", "status"], "new"], "#ffd400", "#ffffff"],
        "circle-stroke-width": ["case", ["==", ["get", "status"], "new"], 3, 1],
      },
    }));
  }

  function popupHtml(properties) {
    const rows = Object.keys(properties)
      .filter((k) => k !== "point_count")
      .map((k) => `<tr><td>${escapeHtml(k)}</td><td>${escapeHtml(properties[k])}</td></tr>`)
      .join("");
    const count = properties.point_count;
    const note =
      count > 1 ? `<p>stands for ${escapeHtml(count)} sites nearby: zoom in to see each</p>` : "";
    // low zooms carry a subset of the properties (the bundle's metadata lists them)
    const more = "vehicles" in properties ? "" : "<p>zoom in for all properties</p>";
    return `${note}<table class="popup-table">${rows}</table>${more}`;
  }

  /** Keep the sites clear of the panel on the left where the window is wide enough. */
  function boundsPadding() {
    const panel = document.getElementById("panel").getBoundingClientRect();
    const left = window.innerWidth > 2.5 * panel.right ? panel.right + 20 : 40;
    return { top: 40, bottom: 40, left, right: 60 };
  }

  function siteCount(manifest) {
    for (const key of ["site_count", "sites", "count"]) {
      if (typeof manifest[key] === "number") {
        return manifest[key];
      }
    }
    return null;
  }

  async function main() {
    const params = new URLSearchParams(window.location.search);
    let day = params.get("day");
    if (!day) {
      day = (await fetchJson(`${PUBLISH}latest.json`)).date;
    }
    if (!/^\d{4}-\d{2}-\d{2}$/.test(day || "")) {
      throw new Error(`day must be YYYY-MM-DD, got ${JSON.stringify(day)}`);
    }
    state.day = day;
    const nav = `${PUBLISH}${day}/nav/`;
    const manifest = await fetchJson(`${nav}manifest.json`);
    const archive = (manifest.files || []).map((f) => f.name).find((n) => n.endsWith(".pmtiles"));
    if (!archive) {
      throw new Error(`${nav}manifest.json lists no .pmtiles file`);
    }
    const archiveUrl = new URL(nav + archive, window.location.href).href;

    const protocol = new pmtiles.Protocol();
    maplibregl.addProtocol("pmtiles", protocol.tile);
    const tiles = new pmtiles.PMTiles(archiveUrl);
    protocol.add(tiles);
    const header = await tiles.getHeader();
    let sourceLayers = [];
    try {
      const metadata = await tiles.getMetadata();
      sourceLayers = (metadata.vector_layers || []).map((layer) => layer.id);
    } catch (err) {
      console.warn("no PMTiles metadata", err);
    }
    if (sourceLayers.length === 0) {
      sourceLayers = ["sites"];
    }
    state.layers = sourceLayers;

    const count = siteCount(manifest);
    document.getElementById("summary").textContent =
      `${day}: ${count === null ? "?" : count} sites, zoom ${header.minZoom}–${header.maxZoom}` +
      (manifest.version ? `, bundle ${manifest.version}` : "");
    document.getElementById("links").innerHTML = ["charge_sites.geojson", "charge_sites.parquet"]
      .map((name) => `<a href="${PUBLISH}${day}/${name}">${name}</a>`)
      .concat([`<a href="${nav}manifest.json">manifest</a>`, `<a href="${nav}delta.json">delta</a>`])
      .concat(
        /^\d{4}-\d{2}-\d{2}$/.test(manifest.previous_version || "")
          ? [`<a href="?day=${encodeURIComponent(manifest.previous_version)}">previous day</a>`]
          : [],
      )
      .join(" · ");

    const map = new maplibregl.Map({
      container: "map",
      attributionControl: false,
      style: {
        version: 8,
        sources: {
          graticule: { type: "geojson", data: graticule(1) },
          sites: {
            type: "vector",
            url: `pmtiles://${archiveUrl}`,
          },
        },
        layers: [
          { id: "background", type: "background", paint: { "background-color": BACKGROUND } },
          {
            id: "graticule",
            type: "line",
            source: "graticule",
            filter: ["any", ["get", "major"], [">=", ["zoom"], 5]],
            paint: {
              "line-color": "#3b4a5c",
              "line-width": ["case", ["get", "major"], 1.2, 0.6],
            },
          },
          ...siteLayers(sourceLayers),
        ],
      },
      bounds: [
        [header.minLon, header.minLat],
        [header.maxLon, header.maxLat],
      ],
      fitBoundsOptions: { padding: boundsPadding(), maxZoom: Math.min(header.maxZoom, 14) },
    });
    map.addControl(new maplibregl.NavigationControl(), "top-right");
    map.addControl(new maplibregl.ScaleControl(), "bottom-left");

    const layerIds = sourceLayers.map((l) => `sites-${l}`);
    map.on("click", (event) => {
      const hits = map.queryRenderedFeatures(event.point, { layers: layerIds });
      if (hits.length > 0) {
        new maplibregl.Popup()
          .setLngLat(hits[0].geometry.coordinates)
          .setHTML(popupHtml(hits[0].properties))
          .addTo(map);
      }
    });
    map.on("mousemove", (event) => {
      const hits = map.queryRenderedFeatures(event.point, { layers: layerIds });
      map.getCanvas().style.cursor = hits.length > 0 ? "pointer" : "";
    });
    map.on("idle", () => {
      const rendered = map.queryRenderedFeatures({ layers: layerIds });
      const ids = new Set(rendered.map((f) => f.properties.site_id));
      state.rendered = ids.size;
      // sites drawn, counting those a thinned low-zoom dot stands for
      state.represented = [...new Map(rendered.map((f) => [f.properties.site_id, f])).values()]
        .map((f) => f.properties.point_count || 1)
        .reduce((a, b) => a + b, 0);
      state.zoom = map.getZoom();
      setStatus("ready");
    });
    map.on("error", (event) => console.error(event.error));
    window.viewerMap = map;
  }

  main().catch((err) => fail(`cannot show the bundle: ${err.message}`));
})();
