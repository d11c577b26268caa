// i18n.js — every visible string of the dashboard in 简体中文 (the default)
// and English, the chosen language (remembered in localStorage), and the
// formatting of times, durations and record values in that language.

const LANG_KEY = 'visitsync.lang';

const STRINGS = {
  zh: {
    title: '帮教走访 · 督导看板',
    brand: '帮教走访',
    brand_sub: '督导看板',
    lang_switch: 'English',
    sign_out: '退出登录',
    live: '实时',
    not_live: '未连接实时',
    signin_title: '督导员登录',
    signin_help: '请打开管理员发给您的登录链接，或把您的督导员令牌粘贴到下面。',
    signin_token: '令牌',
    signin_placeholder: '粘贴令牌（43 个字符）',
    signin_button: '登录',
    signin_bad: '此令牌无效、已被撤销，或不是督导员/管理员的令牌（平板的令牌不能登录看板）。请向管理员索取新的登录链接。',
    signin_expired: '您的令牌已失效，请重新登录。',
    signin_empty: '请先粘贴令牌。',
    signed_out: '您已退出登录。',
    net_error: '无法连接服务器：{msg}。稍后自动重试。',
    server_error: '服务器出错（{status}）：{msg}',
    loading: '正在加载…',
    fig_online: '在线设备',
    fig_conflicts: '待处理冲突',
    fig_records: '记录数',
    fig_cursor: '服务器游标',
    tab_devices: '设备',
    tab_conflicts: '冲突',
    tab_report: '工作指标',
    filter_grid: '网格',
    all_grids: '全部网格',
    search: '搜索',
    search_placeholder: '设备或干部姓名',
    col_device: '设备',
    col_user: '干部',
    col_grids: '网格',
    col_online: '在线',
    col_last_sync: '最近同步',
    col_pending: '待上传',
    col_oldest: '最早待上传',
    col_app: '应用',
    col_skew: '时钟偏差',
    col_error: '最近错误',
    online: '在线',
    offline: '离线',
    every_grid: '全部',
    never: '从未',
    never_synced: '从未同步',
    never_synced_enrolled: '从未同步（{t}注册）',
    needs_sync: '需同步',
    clock_off: '时钟不准',
    revoked: '已撤销',
    no_devices: '没有符合条件的设备。',
    devices_count: '共 {n} 台设备',
    show_open: '待处理',
    show_resolved: '已处理',
    no_open: '没有待处理的冲突。',
    no_resolved: '还没有已处理的冲突。',
    load_more: '加载更多',
    candidate_current: '当前值',
    cand_by: '干部',
    cand_device: '设备',
    cand_time: '时间',
    reason: '处理理由',
    reason_placeholder: '为什么选择这个值（可选，最多 500 字）',
    choose: '选择此值',
    choosing: '正在提交…',
    resolved_ok: '已处理：{what}',
    resolved_by: '处理人',
    resolved_at: '处理时间',
    resolved_reason: '理由',
    resolved_value: '选定值',
    no_reason: '（未填写）',
    empty_value: '（空）',
    err_already: '此冲突已由他人处理，已从列表中移除。',
    err_not_found: '找不到此冲突（可能已删除，或不在您负责的网格内）。',
    err_bad_request: '服务器拒绝了此选择：{msg}',
    err_other: '提交失败（{status}）：{msg}',
    conflict_created: '发生于',
    grid: '网格',
    rep_placement: '安置就业率',
    rep_placement_note: '就业 {e} 人 + 自主就业 {s} 人，应安置 {n} 人（不含已解除）',
    rep_reference: '参考 {p}',
    rep_coverage: '各网格走访覆盖率（近 30 天）',
    rep_coverage_note: '全部 {n} 人中近 30 天走访 {v} 人',
    rep_pairing: '结对帮扶率',
    rep_pairing_note: '{n} 人中已结对 {p} 人',
    rep_goal: '目标 {p}',
    rep_assistance: '帮扶措施',
    rep_all: '累计',
    rep_30d: '近 30 天',
    rep_four: '四位一体',
    rep_visits_week: '每周走访次数（近 12 周）',
    rep_cadres: '干部结对与走访',
    rep_cadres_note: '共 {n} 名干部；结对对象近 30 天未走访人数多的排在前面，点击表头可换排序。',
    rep_status: '帮教对象',
    col_cadre: '干部',
    col_paired: '结对人数',
    col_paired_visited: '近 30 天已走访的结对对象',
    col_visits_30d: '近 30 天走访',
    col_visits: '累计走访',
    rep_generated: '统计时间 {t}',
    rep_none: '暂无数据',
    rep_subjects_total: '共 {n} 人',
    just_now: '刚刚',
    ago_min: '{n} 分钟前',
    ago_hour: '{n} 小时前',
    ago_day: '{n} 天前',
    in_future: '{d}之后',
    unit_ms: '{n} 毫秒',
    unit_s: '{n} 秒',
    unit_min: '{n} 分钟',
    unit_h: '{n} 小时',
    unit_d: '{n} 天',
    skew_ahead: '快 {d}',
    skew_behind: '慢 {d}',
    sort_hint: '点击排序',
  },
  en: {
    title: 'Visit programme · Supervisors\u2019 dashboard',
    brand: 'visitsync',
    brand_sub: 'Supervisors\u2019 dashboard',
    lang_switch: '中文',
    sign_out: 'Sign out',
    live: 'Live',
    not_live: 'Not live',
    signin_title: 'Supervisor sign-in',
    signin_help: 'Open the sign-in link your administrator sent you, or paste your supervisor token below.',
    signin_token: 'Token',
    signin_placeholder: 'Paste the token (43 characters)',
    signin_button: 'Sign in',
    signin_bad: 'This token is unknown, revoked, or not a supervisor\u2019s or administrator\u2019s (a tablet\u2019s token cannot open the dashboard). Ask your administrator for a new sign-in link.',
    signin_expired: 'Your token is no longer valid; please sign in again.',
    signin_empty: 'Paste a token first.',
    signed_out: 'You have signed out.',
    net_error: 'Cannot reach the server: {msg}. Retrying shortly.',
    server_error: 'Server error ({status}): {msg}',
    loading: 'Loading\u2026',
    fig_online: 'Devices online',
    fig_conflicts: 'Open conflicts',
    fig_records: 'Records',
    fig_cursor: 'Server cursor',
    tab_devices: 'Devices',
    tab_conflicts: 'Conflicts',
    tab_report: 'Programme',
    filter_grid: 'Grid',
    all_grids: 'All grids',
    search: 'Search',
    search_placeholder: 'Device or cadre',
    col_device: 'Device',
    col_user: 'Cadre',
    col_grids: 'Grids',
    col_online: 'Online',
    col_last_sync: 'Last sync',
    col_pending: 'Pending',
    col_oldest: 'Oldest pending',
    col_app: 'App',
    col_skew: 'Clock skew',
    col_error: 'Last error',
    online: 'online',
    offline: 'offline',
    every_grid: 'all',
    never: 'never',
    never_synced: 'never synced',
    never_synced_enrolled: 'never synced (enrolled {t})',
    needs_sync: 'needs sync',
    clock_off: 'clock off',
    revoked: 'revoked',
    no_devices: 'No device matches.',
    devices_count: '{n} devices',
    show_open: 'Open',
    show_resolved: 'Resolved',
    no_open: 'No open conflicts.',
    no_resolved: 'No resolved conflicts yet.',
    load_more: 'Load more',
    candidate_current: 'current',
    cand_by: 'Cadre',
    cand_device: 'Device',
    cand_time: 'Time',
    reason: 'Reason',
    reason_placeholder: 'Why this value (optional, up to 500 characters)',
    choose: 'Choose this',
    choosing: 'Sending\u2026',
    resolved_ok: 'Resolved: {what}',
    resolved_by: 'Resolved by',
    resolved_at: 'Resolved at',
    resolved_reason: 'Reason',
    resolved_value: 'Chosen value',
    no_reason: '(none given)',
    empty_value: '(empty)',
    err_already: 'Someone else has already resolved this conflict; it has left the queue.',
    err_not_found: 'This conflict cannot be found (it may be outside your grids).',
    err_bad_request: 'The server refused this choice: {msg}',
    err_other: 'Could not resolve ({status}): {msg}',
    conflict_created: 'Raised',
    grid: 'Grid',
    rep_placement: 'Placement rate',
    rep_placement_note: '{e} employed + {s} self-employed of {n} eligible (not completed)',
    rep_reference: 'reference {p}',
    rep_coverage: 'Visit coverage per grid (last 30 days)',
    rep_coverage_note: '{v} of {n} people visited in the last 30 days',
    rep_pairing: 'Pairing',
    rep_pairing_note: '{p} of {n} people paired with a cadre',
    rep_goal: 'goal {p}',
    rep_assistance: 'Assistance by kind',
    rep_all: 'all time',
    rep_30d: 'last 30 days',
    rep_four: 'Four in one',
    rep_visits_week: 'Visits per week (last 12 weeks)',
    rep_cadres: 'Cadres: pairing and visits',
    rep_cadres_note: '{n} cadres; those with the most paired people not visited in 30 days come first. Click a heading to sort.',
    rep_status: 'People in the programme',
    col_cadre: 'Cadre',
    col_paired: 'Paired',
    col_paired_visited: 'Paired, visited in 30 days',
    col_visits_30d: 'Visits, 30 days',
    col_visits: 'Visits, all',
    rep_generated: 'Figures as of {t}',
    rep_none: 'No data yet',
    rep_subjects_total: '{n} people',
    just_now: 'just now',
    ago_min: '{n} minutes ago',
    ago_hour: '{n} hours ago',
    ago_day: '{n} days ago',
    in_future: 'in {d}',
    unit_ms: '{n} ms',
    unit_s: '{n} s',
    unit_min: '{n} min',
    unit_h: '{n} h',
    unit_d: '{n} days',
    skew_ahead: '{d} ahead',
    skew_behind: '{d} behind',
    sort_hint: 'Click to sort',
  },
};

// Names of the schema's collections, fields and enum values (docs/protocol.md §4).
const VOCAB = {
  zh: {
    subjects: '帮教对象', visits: '走访记录',
    name: '姓名', grid: '网格', status: '帮教状态', employment: '就业情况', employer: '工作单位',
    income: '月收入', dibao: '低保', disability_cert: '残疾证', phone: '电话', address: '地址',
    family_notes: '家庭情况', cadre: '结对干部', subject: '帮教对象', visited_at: '走访时间',
    kind: '走访方式', living: '生活情况', assistance: '帮扶措施', needs: '需求', notes: '备注',
    photos: '照片', follow_up: '下次跟进', _deleted: '已删除',
    community_rehab: '社区康复', voluntary: '自愿戒治', completed: '已解除', relapsed: '复吸',
    none: '未填写', employed: '就业', self_employed: '自主就业', unemployed: '未就业', unable: '无劳动能力',
    applied: '已申请', approved: '已批准', rejected: '未批准',
    home: '入户', workplace: '工作单位', office: '约谈', group: '集体活动',
    rehab: '康复', training: '培训', placement: '安置', family: '家庭',
    fund: '资金', purchase: '帮销', medical: '医疗',
    true: '是', false: '否',
  },
  en: {
    subjects: 'people', visits: 'visits',
    name: 'name', grid: 'grid', status: 'status', employment: 'employment', employer: 'employer',
    income: 'monthly income', dibao: 'dibao', disability_cert: 'disability certificate',
    phone: 'phone', address: 'address', family_notes: 'family notes', cadre: 'paired cadre',
    subject: 'person', visited_at: 'visited at', kind: 'kind', living: 'living', assistance: 'assistance',
    needs: 'needs', notes: 'notes', photos: 'photos', follow_up: 'follow-up', _deleted: 'deleted',
    community_rehab: 'community rehab', voluntary: 'voluntary', completed: 'completed',
    relapsed: 'relapsed', none: 'not set', employed: 'employed', self_employed: 'self-employed',
    unemployed: 'unemployed', unable: 'unable to work', applied: 'applied', approved: 'approved',
    rejected: 'rejected', home: 'home', workplace: 'workplace', office: 'office', group: 'group',
    rehab: 'rehab', training: 'training', placement: 'placement', family: 'family',
    fund: 'fund', purchase: 'purchase', medical: 'medical', true: 'yes', false: 'no',
  },
};

function initialLang() {
  const saved = localStorage.getItem(LANG_KEY);
  return saved === 'en' || saved === 'zh' ? saved : 'zh';
}

let lang = initialLang();

export function getLang() { return lang; }

export function setLang(l) {
  lang = l === 'en' ? 'en' : 'zh';
  localStorage.setItem(LANG_KEY, lang);
  document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
  document.title = t('title');
  for (const el of document.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of document.querySelectorAll('[data-i18n-placeholder]'))
    el.placeholder = t(el.dataset.i18nPlaceholder);
}

// t('ago_day', {n: 3}) → "3 天前".
export function t(key, params) {
  let s = STRINGS[lang][key] ?? STRINGS.zh[key] ?? key;
  if (params) s = s.replace(/\{(\w+)\}/g, (m, k) => (k in params ? String(params[k]) : m));
  return s;
}

// A schema word (collection, field or enum value) in the language, or itself.
export function word(w) {
  const v = VOCAB[lang][String(w)];
  return v === undefined ? String(w) : v;
}

export function num(n) {
  return n == null ? '—' : Number(n).toLocaleString(lang === 'zh' ? 'zh-CN' : 'en-US');
}

export function pct(r, digits = 1) {
  return r == null ? '—' : (r * 100).toFixed(digits) + '%';
}

// A duration of ms milliseconds, in the largest unit that fits.
export function duration(ms) {
  const a = Math.abs(ms);
  const one = (x) => (x < 10 ? x.toFixed(1).replace(/\.0$/, '') : String(Math.round(x)));
  if (a < 1000) return t('unit_ms', { n: Math.round(a) });
  if (a < 60e3) return t('unit_s', { n: one(a / 1e3) });
  if (a < 3600e3) return t('unit_min', { n: one(a / 60e3) });
  if (a < 86400e3) return t('unit_h', { n: one(a / 3600e3) });
  return t('unit_d', { n: one(a / 86400e3) });
}

// "3 天前" / "3 days ago" for an RFC 3339 time; "—" for null.
export function ago(iso, now = Date.now()) {
  if (!iso) return '—';
  const d = now - Date.parse(iso);
  if (Number.isNaN(d)) return '—';
  if (d < -60e3) return t('in_future', { d: duration(-d) });
  if (d < 60e3) return t('just_now');
  if (d < 3600e3) return t('ago_min', { n: Math.floor(d / 60e3) });
  if (d < 86400e3) return t('ago_hour', { n: Math.floor(d / 3600e3) });
  return t('ago_day', { n: Math.floor(d / 86400e3) });
}

// The full local date and time of an RFC 3339 time.
export function when(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return d.toLocaleString(lang === 'zh' ? 'zh-CN' : 'en-GB', {
    year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit',
  });
}

// A record's value as text: enum values translated, arrays joined.
export function valueText(v) {
  if (v === null || v === undefined || v === '') return t('empty_value');
  if (Array.isArray(v)) return v.length ? v.map(valueText).join(lang === 'zh' ? '、' : ', ') : t('empty_value');
  if (typeof v === 'boolean') return word(String(v));
  if (typeof v === 'object') return JSON.stringify(v);
  if (typeof v === 'string') return word(v);
  return num(v);
}
