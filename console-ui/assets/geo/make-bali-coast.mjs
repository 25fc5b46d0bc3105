// Derives assets/geo/bali-coast.geojson from Natural Earth 1:10m countries
// (npm package `world-atlas`, TopoJSON) with `topojson-client`.
//
// Usage (in a scratch folder, not in the repository):
//   npm install world-atlas@2 topojson-client@3
//   node /path/to/console-ui/assets/geo/make-bali-coast.mjs > bali-coast.geojson
//
// Keeps Indonesia (ISO 3166 numeric 360), clips every polygon ring to the box
// lon 114.4..115.75, lat -8.95..-8.0 (Sutherland-Hodgman) and rounds
// coordinates to 4 decimals (about 11 m).
import { createRequire } from 'node:module';
// Resolve the packages from the current directory (the scratch folder).
const require = createRequire(process.cwd() + '/');
const { feature } = require('topojson-client');
const world = require('world-atlas/countries-10m.json');
const BOX = { w: 114.4, e: 115.75, s: -8.95, n: -8.0 };

const indonesia = feature(world, world.objects.countries).features.find(
  (f) => f.id === '360' || f.properties.name === 'Indonesia',
);
if (!indonesia) throw new Error('Indonesia not found in countries-10m');

function clipRing(ring) {
  const edges = [
    (p) => p[0] >= BOX.w, (p) => p[0] <= BOX.e, (p) => p[1] >= BOX.s, (p) => p[1] <= BOX.n,
  ];
  const cut = [
    (a, b) => [BOX.w, a[1] + ((BOX.w - a[0]) * (b[1] - a[1])) / (b[0] - a[0])],
    (a, b) => [BOX.e, a[1] + ((BOX.e - a[0]) * (b[1] - a[1])) / (b[0] - a[0])],
    (a, b) => [a[0] + ((BOX.s - a[1]) * (b[0] - a[0])) / (b[1] - a[1]), BOX.s],
    (a, b) => [a[0] + ((BOX.n - a[1]) * (b[0] - a[0])) / (b[1] - a[1]), BOX.n],
  ];
  let out = ring.slice(0, -1);
  for (let i = 0; i < 4 && out.length; i++) {
    const input = out;
    out = [];
    for (let j = 0; j < input.length; j++) {
      const cur = input[j];
      const prev = input[(j + input.length - 1) % input.length];
      const inCur = edges[i](cur);
      const inPrev = edges[i](prev);
      if (inCur) {
        if (!inPrev) out.push(cut[i](prev, cur));
        out.push(cur);
      } else if (inPrev) {
        out.push(cut[i](prev, cur));
      }
    }
  }
  if (out.length < 3) return null;
  const r = out.map(([x, y]) => [Math.round(x * 1e4) / 1e4, Math.round(y * 1e4) / 1e4]);
  r.push(r[0]);
  return r;
}

const polys = indonesia.geometry.type === 'Polygon'
  ? [indonesia.geometry.coordinates]
  : indonesia.geometry.coordinates;
const kept = [];
for (const poly of polys) {
  const rings = poly.map(clipRing).filter(Boolean);
  if (rings.length && rings[0].length >= 4) kept.push(rings);
}

const out = {
  type: 'FeatureCollection',
  features: [{
    type: 'Feature',
    properties: {
      name: 'Bali coastline (clipped)',
      source: 'Natural Earth 1:10m admin-0 countries via world-atlas countries-10m.json',
      licence: 'Public domain (Natural Earth)',
      bbox_clip: [BOX.w, BOX.s, BOX.e, BOX.n],
    },
    geometry: { type: 'MultiPolygon', coordinates: kept },
  }],
};
process.stdout.write(JSON.stringify(out) + '\n');
