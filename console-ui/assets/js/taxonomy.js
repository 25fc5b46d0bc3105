// Wire ids of the taxonomy (shared/taxonomy.md) with display codes and colours.

export const CATEGORIES = [
  'fire', 'lightning', 'flood', 'landslide', 'earthquake', 'tsunami', 'storm',
  'traffic_accident', 'medical', 'crime', 'water_rescue', 'building_collapse',
  'hazmat', 'electrical', 'animal', 'missing_person', 'general',
];

/** Short code and colour per category (the "icon": a coloured badge, no font needed). */
export const CATEGORY_STYLE = {
  fire: { code: 'FIRE', color: '#ff6b4a' },
  lightning: { code: 'LTNG', color: '#ffd23f' },
  flood: { code: 'FLD', color: '#4aa8ff' },
  landslide: { code: 'SLD', color: '#c08a52' },
  earthquake: { code: 'EQ', color: '#d08cff' },
  tsunami: { code: 'TSU', color: '#3fd0e0' },
  storm: { code: 'STRM', color: '#8fb0ff' },
  traffic_accident: { code: 'LAKA', color: '#ffb347' },
  medical: { code: 'MED', color: '#ff7eb6' },
  crime: { code: 'KRIM', color: '#b39dff' },
  water_rescue: { code: 'AIR', color: '#37c6ff' },
  building_collapse: { code: 'RNTH', color: '#e0a070' },
  hazmat: { code: 'B3', color: '#c6f04a' },
  electrical: { code: 'LSTR', color: '#ffe066' },
  animal: { code: 'HWN', color: '#8ad17a' },
  missing_person: { code: 'HLNG', color: '#f7a6ff' },
  general: { code: 'UMUM', color: '#9fb0bf' },
};

export const PRIORITIES = [1, 2, 3, 4];

export const INCIDENT_ACTIVE = ['new', 'triaged', 'dispatched', 'en_route', 'on_scene'];

export const UNIT_TYPES = ['fire', 'ambulance', 'police', 'disaster', 'sar', 'lifeguard', 'utility'];

export const UNIT_STATUSES = ['available', 'dispatched', 'en_route', 'on_scene', 'returning', 'out_of_service'];

export const UNIT_STATUS_COLOR = {
  available: '#2ecc71',
  dispatched: '#f5b700',
  en_route: '#ff8c1a',
  on_scene: '#ff3b3b',
  returning: '#3d8bff',
  out_of_service: '#8a96a3',
};

export const UNIT_TYPE_CODE = {
  fire: 'DMK', ambulance: 'AMB', police: 'POL', disaster: 'BPBD', sar: 'SAR', lifeguard: 'BLW', utility: 'PLN',
};

export const DISTRICTS = ['kuta_selatan', 'kuta', 'kuta_utara', 'mengwi', 'abiansemal', 'petang'];

/** Words that mark a corruption / illegal-levy complaint (offer the b-wise channel). */
export const CORRUPTION_RE = /\b(pungli|pungutan liar|korupsi|koruptor|suap|disuap|menyuap|sogok|gratifikasi|pemerasan|diperas|uang pelicin|uang rokok|uang damai|calo|bribe|bribery|corrupt\w*|extort\w*|kickback)\b/i;

export function isActiveIncident(inc) {
  return INCIDENT_ACTIVE.includes(inc.status);
}
