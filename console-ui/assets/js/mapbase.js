// Leaflet base map of Badung that works offline: the Natural Earth coastline
// of Bali and approximate kecamatan outlines; online tiles only when
// GET /api/v1/ui-config gives a tile_url. Needs /assets/vendor/leaflet/leaflet.js
// loaded as a classic script (window.L).

import { api } from './api.js';
import { tw } from './i18n.js';

const L = window.L;
export const BADUNG_CENTER = [-8.60, 115.18];
export const BADUNG_BOUNDS = [[-8.86, 115.06], [-8.27, 115.28]];

let configPromise;
export function uiConfig() {
  if (!configPromise) {
    configPromise = api('GET', '/api/v1/ui-config', undefined, { quiet: true }).catch(() => ({ tile_url: null }));
  }
  return configPromise;
}

const geoCache = {};
function loadGeo(name) {
  if (!geoCache[name]) geoCache[name] = fetch(`/assets/geo/${name}`).then((r) => r.json()).catch(() => null);
  return geoCache[name];
}

/**
 * Create a map in `el`. opts: {districtLabels: bool, zoomControl: bool, minimal: bool}
 * Returns the Leaflet map; `map.whenBaseReady` resolves when the base layers are drawn.
 */
export function createBaseMap(el, opts = {}) {
  const map = L.map(el, {
    zoomControl: opts.zoomControl !== false,
    attributionControl: true,
    preferCanvas: false,
    zoomSnap: 0.25,
    maxBounds: [[-9.3, 114.2], [-7.7, 116.0]],
    minZoom: 8,
    maxZoom: 18,
  });
  map.fitBounds(opts.bounds || BADUNG_BOUNDS);
  map.attributionControl.setPrefix(false);
  map.whenBaseReady = (async () => {
    const cfg = await uiConfig();
    if (cfg && cfg.tile_url) {
      L.tileLayer(cfg.tile_url, { attribution: cfg.tile_attribution || '', maxZoom: 19 }).addTo(map);
    } else {
      const coast = await loadGeo('bali-coast.geojson');
      if (coast) {
        L.geoJSON(coast, {
          interactive: false,
          style: { color: '#3c5a6e', weight: 1.2, fillColor: '#1a2832', fillOpacity: 1 },
        }).addTo(map);
      }
      map.attributionControl.addAttribution('Coast: Natural Earth (public domain)');
    }
    const kec = await loadGeo('badung-kecamatan.geojson');
    if (kec) {
      L.geoJSON(kec, {
        interactive: false,
        style: { color: '#5cc8ff', weight: 1.5, opacity: 0.55, dashArray: '5 4', fillColor: '#5cc8ff', fillOpacity: cfg && cfg.tile_url ? 0.02 : 0.05 },
        onEachFeature: (f, layer) => {
          if (opts.districtLabels !== false) {
            layer.bindTooltip(tw('dist', f.properties.district), { permanent: true, direction: 'center', className: 'dist-label' });
          }
        },
      }).addTo(map);
    }
  })();
  return map;
}

export { L };
