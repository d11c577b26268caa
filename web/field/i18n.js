// i18n.js — every visible string of the field app in 简体中文 (the default)
// and English, the chosen language (remembered in localStorage), the Chinese
// names of the default schema's fields and enum values (a custom schema's
// fields fall back to their label or name), the explanation of each wire
// error code, and dates and times in the chosen language.

const LANG_KEY = 'visitsync.field.lang';

const STRINGS = {
  zh: {
    title: '走访同步',
    brand: '走访同步',
    lang_switch: 'English',
    sign_out: '退出登录',
    signin_title: '平板登录',
    signin_help: '请用平板扫描管理员给您的二维码（登录链接），或把设备编号和令牌填到下面。',
    signin_device: '设备编号',
    signin_token: '令牌',
    signin_button: '登录',
    signin_bad: '此平板的令牌无效或已被撤销，本机数据已隐藏。请向管理员索取新的登录二维码；尚未同步的修改仍保留在本机，本平板重新登录后继续上传。',
    signin_empty: '请填写设备编号和令牌。',
    signed_out: '您已退出登录，本机数据已清除。',
    signing_in: '正在登录并下载本网格的数据…',
    insecure: '此地址（{origin}）不是受信任的安全地址，浏览器不允许本应用离线工作：有网络时可以正常使用，断网后无法打开。请联系管理员为服务器配置受信任的地址（https 证书）。',
    conn_offline: '离线',
    conn_connecting: '正在连接',
    conn_online: '已连接',
    conn_unauthorized: '令牌无效',
    conn_error: '出错',
    syncing: '正在同步…',
    sync_now: '同步',
    pending: '待上传 {n} 条',
    photos_pending: '照片 {n} 张',
    last_sync: '上次同步：{t}',
    never_synced: '尚未同步',
    oldest_pending: '最早一条待上传：{t}',
    just_now: '刚刚',
    ago_min: '{n} 分钟前',
    ago_hour: '{n} 小时前',
    ago_day: '{n} 天前',
    rejected_title: '服务器拒收的修改（{n}）',
    rejected_fix: '去修改',
    dismiss: '知道了',
    conflicts_title: '冲突（{n}）',
    conflict_text: '与其他平板的修改冲突，已按规则合并：{fields}',
    server_said: '服务器说明：{msg}',
    search: '搜索姓名',
    my_subjects: '我的结对对象（点对点帮扶）',
    other_subjects: '本网格其他对象',
    no_subjects: '本网格暂无帮教对象（或尚未同步）。',
    no_match: '没有找到“{q}”。',
    last_visit: '最近走访：{d}',
    never_visited: '从未走访',
    overdue: '超过 30 天未走访',
    not_synced_yet: '未上传',
    count_subjects: '共 {n} 人',
    back: '← 返回名单',
    back_subject: '← 返回',
    new_visit: '新走访',
    edit_subject: '编辑就业/低保',
    visits: '走访记录',
    no_visits: '还没有走访记录。',
    details: '基本情况',
    not_found: '找不到这条记录（可能已不在您的网格内）。',
    save: '保存',
    saving: '正在保存…',
    cancel: '取消',
    saved: '已保存在本机，将自动上传。',
    nothing_changed: '没有修改任何内容。',
    form_visit: '新走访：{name}',
    form_visit_edit: '修改走访记录：{name}',
    form_subject: '编辑：{name}',
    fix_errors: '请先改正标出的内容。',
    yes: '是',
    no: '否',
    unset: '不填',
    add_photo: '拍照 / 选择照片',
    photo_adding: '正在处理照片…',
    photo_failed: '无法读取这张照片：{msg}',
    remove: '删除',
    photo_missing: '照片尚未下载',
    now: '现在',
    confirm_signout_title: '退出登录？',
    confirm_signout_none: '本机所有数据将被清除，下次需要重新扫码登录。',
    confirm_signout_pending: '还有{what}没有上传到服务器，退出后将永久丢失：',
    lost_changes: ' {n} 条修改',
    lost_photos: ' {n} 张照片',
    and: '和',
    confirm_signout_ok: '清除并退出',
    pending_mark: '待上传',
    err_generic: '保存失败：{msg}',
  },
  en: {
    title: 'Visit sync',
    brand: 'Visit sync',
    lang_switch: '中文',
    sign_out: 'Sign out',
    signin_title: 'Tablet sign-in',
    signin_help: 'Scan the QR code (sign-in link) your administrator gave you, or enter the device id and token below.',
    signin_device: 'Device id',
    signin_token: 'Token',
    signin_button: 'Sign in',
    signin_bad: 'This tablet\u2019s token is unknown or revoked, so nothing is shown. Ask your administrator for a new sign-in QR code; changes not yet synced stay on the tablet and go out once this tablet signs in again.',
    signin_empty: 'Enter the device id and the token.',
    signed_out: 'You have signed out; the data on this tablet has been erased.',
    signing_in: 'Signing in and downloading your grid\u2026',
    insecure: 'This address ({origin}) is not a trusted secure origin, so the browser does not let this app work offline: it works while the network is up, but will not open without it. Ask your administrator to give the server a trusted address (an https certificate).',
    conn_offline: 'Offline',
    conn_connecting: 'Connecting',
    conn_online: 'Online',
    conn_unauthorized: 'Token refused',
    conn_error: 'Error',
    syncing: 'Syncing\u2026',
    sync_now: 'Sync',
    pending: '{n} pending',
    photos_pending: '{n} photos',
    last_sync: 'Last sync: {t}',
    never_synced: 'Never synced',
    oldest_pending: 'Oldest pending: {t}',
    just_now: 'just now',
    ago_min: '{n} min ago',
    ago_hour: '{n} h ago',
    ago_day: '{n} days ago',
    rejected_title: 'Changes the server refused ({n})',
    rejected_fix: 'Correct it',
    dismiss: 'Dismiss',
    conflicts_title: 'Conflicts ({n})',
    conflict_text: 'Conflicted with another tablet\u2019s edit; merged by the rules: {fields}',
    server_said: 'Server: {msg}',
    search: 'Search by name',
    my_subjects: 'My paired people',
    other_subjects: 'Others in my grid',
    no_subjects: 'No people in this grid (or not synced yet).',
    no_match: 'No one matches \u201c{q}\u201d.',
    last_visit: 'Last visit: {d}',
    never_visited: 'Never visited',
    overdue: 'Not visited for 30 days',
    not_synced_yet: 'not uploaded',
    count_subjects: '{n} people',
    back: '\u2190 Back to the list',
    back_subject: '\u2190 Back',
    new_visit: 'New visit',
    edit_subject: 'Edit employment / dibao',
    visits: 'Visits',
    no_visits: 'No visits yet.',
    details: 'Details',
    not_found: 'This record cannot be found (it may no longer be in your grid).',
    save: 'Save',
    saving: 'Saving\u2026',
    cancel: 'Cancel',
    saved: 'Saved on this tablet; it will be uploaded automatically.',
    nothing_changed: 'Nothing was changed.',
    form_visit: 'New visit: {name}',
    form_visit_edit: 'Edit visit: {name}',
    form_subject: 'Edit: {name}',
    fix_errors: 'Correct the marked fields first.',
    yes: 'Yes',
    no: 'No',
    unset: 'Not set',
    add_photo: 'Take / choose a photo',
    photo_adding: 'Preparing the photo\u2026',
    photo_failed: 'Cannot read this photo: {msg}',
    remove: 'Remove',
    photo_missing: 'Photo not downloaded yet',
    now: 'Now',
    confirm_signout_title: 'Sign out?',
    confirm_signout_none: 'All data on this tablet will be erased; you will need the QR code to sign in again.',
    confirm_signout_pending: '{what} have not reached the server yet and will be lost for good:',
    lost_changes: '{n} changes',
    lost_photos: '{n} photos',
    and: ' and ',
    confirm_signout_ok: 'Erase and sign out',
    pending_mark: 'pending',
    err_generic: 'Could not save: {msg}',
  },
};

// What a wire error code means, for a cadre; {field} is the field's name.
const CODES = {
  zh: {
    missing_field: '“{field}”必须填写。',
    invalid_field: '“{field}”的内容不符合要求。',
    unknown_field: '服务器不认识“{field}”这一项（表格可能已更新，请同步后重试）。',
    unknown_collection: '服务器不认识这类记录（表格可能已更新，请同步后重试）。',
    out_of_scope: '此记录已不在您负责的网格内，修改未被接受。',
    clock_skew: '平板的时间比服务器快了很多，修改未被接受。请在平板的“设置”里把日期和时间设为自动，然后重新保存。',
    bad_id: '记录编号不符合要求。',
    other: '修改未被接受（{code}）。',
  },
  en: {
    missing_field: '\u201c{field}\u201d is required.',
    invalid_field: '\u201c{field}\u201d is not valid.',
    unknown_field: 'The server does not know \u201c{field}\u201d (the form may have changed: sync, then try again).',
    unknown_collection: 'The server does not know this kind of record (the form may have changed: sync, then try again).',
    out_of_scope: 'This record is no longer in your grid; the change was refused.',
    clock_skew: 'This tablet\u2019s clock is far ahead of the server\u2019s; the change was refused. Set the date and time to automatic in the tablet\u2019s settings, then save again.',
    bad_id: 'The record id is not valid.',
    other: 'The change was refused ({code}).',
  },
};

// The default schema's fields and values; a field or value not here shows
// its schema label, else its name.
const NAMES = {
  zh: {
    collections: { subjects: '帮教对象', visits: '走访' },
    fields: {
      name: '姓名', grid: '网格', status: '帮教状态', employment: '就业情况', employer: '工作单位',
      income: '月收入（元）', dibao: '低保', disability_cert: '残疾证', phone: '电话', address: '住址',
      family_notes: '家庭情况', cadre: '结对干部', subject: '帮教对象', visited_at: '走访时间',
      kind: '走访方式', living: '生活情况', assistance: '帮扶措施', needs: '需求', notes: '备注',
      photos: '照片', follow_up: '下次跟进日期',
    },
    values: {
      status: { community_rehab: '社区康复', voluntary: '自愿戒治', completed: '已解除', relapsed: '复吸' },
      employment: { employed: '就业', self_employed: '自主就业', unemployed: '未就业', unable: '无劳动能力' },
      dibao: { none: '未申请', applied: '已申请', approved: '已批准', rejected: '未批准' },
      kind: { home: '入户', phone: '电话', workplace: '工作单位', office: '来访', group: '集体活动' },
      assistance: {
        rehab: '康复指导', training: '技能培训', placement: '就业安置', family: '家庭帮扶', fund: '资金扶持',
        purchase: '消费帮扶', dibao: '低保申请', medical: '医疗救助',
      },
    },
  },
  en: {
    collections: { subjects: 'Person', visits: 'Visit' },
    fields: {
      name: 'Name', grid: 'Grid', status: 'Status', employment: 'Employment', employer: 'Employer',
      income: 'Income (CNY/month)', dibao: 'Dibao (minimum allowance)', disability_cert: 'Disability certificate',
      phone: 'Phone', address: 'Address', family_notes: 'Family', cadre: 'Paired cadre', subject: 'Person',
      visited_at: 'Visited at', kind: 'Kind of visit', living: 'Living conditions', assistance: 'Assistance',
      needs: 'Needs', notes: 'Notes', photos: 'Photos', follow_up: 'Follow up on',
    },
    values: {
      status: { community_rehab: 'Community rehab', voluntary: 'Voluntary', completed: 'Completed', relapsed: 'Relapsed' },
      employment: { employed: 'Employed', self_employed: 'Self-employed', unemployed: 'Unemployed', unable: 'Unable to work' },
      dibao: { none: 'Not applied', applied: 'Applied', approved: 'Approved', rejected: 'Refused' },
      kind: { home: 'Home', phone: 'Phone', workplace: 'Workplace', office: 'At the office', group: 'Group' },
      assistance: {
        rehab: 'Rehab guidance', training: 'Training', placement: 'Job placement', family: 'Family support',
        fund: 'Funding', purchase: 'Purchase support', dibao: 'Dibao application', medical: 'Medical aid',
      },
    },
  },
};

let lang = 'zh';

export function getLang() {
  try {
    const saved = localStorage.getItem(LANG_KEY);
    if (saved === 'zh' || saved === 'en') return saved;
  } catch { /* storage refused: the default */ }
  return 'zh';
}

// Sets the language for every later t() and the page's static texts
// (data-i18n: the text, data-i18n-placeholder: the placeholder).
export function setLang(l) {
  lang = l === 'en' ? 'en' : 'zh';
  try { localStorage.setItem(LANG_KEY, lang); } catch { /* remembered for this page only */ }
  document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
  document.title = t('title');
  for (const el of document.querySelectorAll('[data-i18n]')) if (el.dataset.i18n) el.textContent = t(el.dataset.i18n);
  for (const el of document.querySelectorAll('[data-i18n-placeholder]')) el.placeholder = t(el.dataset.i18nPlaceholder);
}

export function t(key, vars = {}) {
  const s = STRINGS[lang][key] ?? STRINGS.zh[key] ?? key;
  return s.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m));
}

// A field's name for people: ours, else the schema's label, else its name.
export function fieldName(name, def) {
  return NAMES[lang].fields[name] || def?.label || name;
}

export function valueName(field, value) {
  return NAMES[lang].values[field]?.[value] || String(value);
}

// The sentence for a wire error {code, field}, in the chosen language.
export function codeText(code, field, def) {
  const c = CODES[lang];
  return (c[code] || c.other).replace('{field}', field ? fieldName(field, def) : '').replace('{code}', code);
}

const pad = (n) => String(n).padStart(2, '0');

// "2026-11-28" for a Date or an RFC 3339 string, in local time.
export function dateText(v) {
  const d = v instanceof Date ? v : new Date(v);
  if (Number.isNaN(d.getTime())) return String(v);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

export function dateTimeText(v) {
  const d = new Date(v);
  if (Number.isNaN(d.getTime())) return String(v);
  return `${dateText(d)} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

// "3 分钟前" for a time in ms.
export function ago(ms, now = Date.now()) {
  const s = Math.max(0, (now - ms) / 1000);
  if (s < 60) return t('just_now');
  if (s < 3600) return t('ago_min', { n: Math.floor(s / 60) });
  if (s < 86400) return t('ago_hour', { n: Math.floor(s / 3600) });
  return t('ago_day', { n: Math.floor(s / 86400) });
}

// Collation for names: pinyin order for Chinese.
export const collator = new Intl.Collator(['zh-CN', 'en'], { numeric: true });
