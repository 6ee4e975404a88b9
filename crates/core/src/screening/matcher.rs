//! The screener: an index over every name and alias of the loaded lists, and the scoring that
//! decides whether a subject is a hit. Every similarity is an integer per-mille computed from
//! exact integer ratios, so results do not depend on floating-point rounding.
//!
//! Scoring a subject against one list name (the formulas, with worked examples, are in
//! `docs/screening.md`):
//! 1. Token similarity σ(s, c) for each subject token s and list token c: 1000 when equal; for an
//!    initial, [`INITIAL_SIMILARITY`] when it is the other token's first letter; otherwise the
//!    mean of Jaro-Winkler and the Levenshtein ratio, computed on the tokens as written and on
//!    their [`phonetic`] keys (equal keys give [`PHONETIC_EQUAL_SIMILARITY`]), the larger of the
//!    two, capped at 999 and counted as 0 below [`TOKEN_FLOOR`].
//! 2. Pairs are assigned greedily, best σ first (ties: the heavier pair, then the lower
//!    indices), each token used once, so word order never matters.
//! 3. Token weights are their lengths in characters. Subject coverage cs = Σσ·w(s) / Σw(subject)
//!    and list coverage cc = Σσ·w(c) / Σw(list name), except that when one side is wholly
//!    matched the other side's heaviest unmatched token counts half (a payee leaving out a
//!    patronymic or second surname, or adding "Network" to a listed name). The token score is
//!    (3·max(cs, cc) + min(cs, cc)) / 4, capped at [`SINGLE_TOKEN_CAP`] when only one pair
//!    matched against a name of several tokens.
//! 4. When the concatenated forms are themselves similar (σ ≥ floor), the whole-name score is the
//!    Levenshtein ratio of the sorted tokens joined by spaces or of the concatenations, whichever
//!    is higher: it catches "Alqaida" against "Al-Qaida". The name score is the higher of the
//!    token and whole-name scores.
//! 5. The entry's score is its best name score (primary or alias, less
//!    [`LOW_QUALITY_ALIAS_PENALTY`] for a low-quality alias) adjusted by the evidence: date of
//!    birth, country and kind (the constants below), clamped to 0..=1000.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

use super::normalize::{NormalizedName, is_initial, phonetic};
use super::{AliasQuality, BirthDate, EntryKind, Hit, ListEntry, PartialDate, Score, Subject, SubjectKind};

/// The threshold the labelled evaluation set was measured at (see `docs/screening.md`).
pub const DEFAULT_THRESHOLD: Score = Score::saturating(850);
/// Token similarities below this count as no similarity at all, so unrelated tokens never add
/// up to a match.
pub const TOKEN_FLOOR: u16 = 800;
/// An initial against a token starting with the same letter: compatible, but weaker evidence
/// than the spelled-out token.
pub const INITIAL_SIMILARITY: u16 = 800;
/// Two different spellings with the same phonetic key ("Mohammed"/"Muhamad").
pub const PHONETIC_EQUAL_SIMILARITY: u16 = 950;
/// The most a name can score on the tokens when only one of its several tokens matched.
pub const SINGLE_TOKEN_CAP: u16 = 800;
/// Added when a date of birth on the entry agrees with the subject's.
pub const DOB_AGREES_BONUS: u16 = 50;
/// Taken off when the entry's dates of birth all disagree with the subject's.
pub const DOB_DIFFERS_PENALTY: u16 = 150;
/// Added when one of the entry's countries is the subject's.
pub const COUNTRY_AGREES_BONUS: u16 = 30;
/// Taken off when the entry has countries and none is the subject's.
pub const COUNTRY_DIFFERS_PENALTY: u16 = 50;
/// Taken off when a person is screened against an organisation, vessel or aircraft, or an
/// organisation against a person.
pub const KIND_DIFFERS_PENALTY: u16 = 100;
/// Taken off a match on an alias its list calls weak or low quality.
pub const LOW_QUALITY_ALIAS_PENALTY: u16 = 50;

const MAX_BONUS: u16 = DOB_AGREES_BONUS + COUNTRY_AGREES_BONUS;

/// A distinct token of the lists (or a name's concatenated form), stored once however many
/// names use it.
struct Token {
    text: String,
    chars: Vec<char>,
    phonetic: Vec<char>,
    bags: (Bag, Bag),
    initial: bool,
}

impl Token {
    fn forms(&self) -> Forms<'_> {
        Forms { written: &self.chars, phonetic: &self.phonetic, bags: &self.bags }
    }
}

/// One name (primary or alias) of one entry.
struct IndexedName {
    entry: u32,
    /// `None` for the primary name, else the index into the entry's aliases.
    alias: Option<u32>,
    tokens: Vec<u32>,
    /// The vocabulary id of the original-order concatenation (the token itself for a one-token
    /// name).
    compact: u32,
    joined: Vec<char>,
}

/// How many leading characters of a token its blocking keys are made from.
const PREFIX: usize = 5;

/// A blocking key: up to [`PREFIX`] characters, padded with NUL.
type Key = [char; PREFIX];

/// The loaded lists, indexed for screening.
///
/// Candidate names are found through an index rather than by comparing every name. Each
/// distinct token, and each name's concatenated form, is filed under blocking keys (see
/// [`keys`]: its first [`PREFIX`] characters and their one-deletion variants, as written and as
/// a phonetic key). A subject's tokens look up the list tokens sharing a key, compute σ for
/// those, and only the names containing a token with σ ≥ [`TOKEN_FLOOR`] are scored; their
/// scores are then exact. A listed name is missed only when none of its tokens (nor its
/// concatenation) is within one edit of a subject token in those first characters; the
/// integration tests check the index against [`Screener::screen_exhaustively`] on every
/// labelled name. A `Screener` is immutable once built, so one can serve many threads.
pub struct Screener {
    entries: Vec<ListEntry>,
    names: Vec<IndexedName>,
    vocab: Vec<Token>,
    /// Vocabulary id → the names that contain it (or whose concatenated form it is).
    postings: Vec<Vec<u32>>,
    keys: HashMap<Key, Vec<u32>>,
}

impl Screener {
    pub fn new(entries: Vec<ListEntry>) -> Self {
        let mut builder = Builder::default();
        let mut names = Vec::new();
        for (entry_index, entry) in entries.iter().enumerate() {
            let entry_index = u32::try_from(entry_index).unwrap_or(u32::MAX);
            let aliases = entry.aliases.iter().enumerate().map(|(i, a)| (Some(u32::try_from(i).unwrap_or(0)), &a.name));
            let mut seen = HashSet::new();
            for (alias, text) in std::iter::once((None, &entry.name)).chain(aliases) {
                let normalized = NormalizedName::new(text);
                // An alias that normalises like a name already indexed adds nothing.
                if normalized.is_empty() || !seen.insert(normalized.tokens().to_vec()) {
                    continue;
                }
                let name_id = u32::try_from(names.len()).unwrap_or(u32::MAX);
                let tokens: Vec<u32> = normalized.tokens().iter().map(|t| builder.token(t, name_id)).collect();
                let compact = builder.token(normalized.compact(), name_id);
                names.push(IndexedName {
                    entry: entry_index,
                    alias,
                    tokens,
                    compact,
                    joined: chars(&normalized.joined()),
                });
            }
        }
        Self { entries, names, vocab: builder.vocab, postings: builder.postings, keys: builder.keys }
    }

    pub fn entries(&self) -> &[ListEntry] {
        &self.entries
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Number of distinct names indexed (primary names and aliases).
    pub fn name_count(&self) -> usize {
        self.names.len()
    }

    /// Every entry scoring at least `threshold`, best first (ties by list and id), one hit per
    /// entry with its best-matching name.
    pub fn screen(&self, subject: &Subject, threshold: Score) -> Vec<Hit> {
        let prepared = Prepared::new(subject);
        let (sigmas, candidates) = self.retrieve(&prepared);
        // Pairs the blocking keys did not bring together are computed when a candidate needs
        // them, so every candidate's score is exact; only the choice of candidates is indexed.
        let sigmas = RefCell::new(sigmas);
        let sigma = |query: usize, vocab_id: u32| {
            if let Some(&known) = sigmas.borrow().get(&(query, vocab_id)) {
                return known;
            }
            let computed = self.query_similarity(&prepared, query, vocab_id);
            sigmas.borrow_mut().insert((query, vocab_id), computed);
            computed
        };
        self.score_names(&prepared, candidates, threshold, sigma)
    }

    /// The same result as [`Screener::screen`] computed without the index: every name is
    /// scored and every σ computed. For audits of the index and for tests; far slower.
    pub fn screen_exhaustively(&self, subject: &Subject, threshold: Score) -> Vec<Hit> {
        let prepared = Prepared::new(subject);
        let all = 0..u32::try_from(self.names.len()).unwrap_or(u32::MAX);
        self.score_names(&prepared, all, threshold, |query, vocab_id| self.query_similarity(&prepared, query, vocab_id))
    }

    fn query_similarity(&self, subject: &Prepared, query: usize, vocab_id: u32) -> u16 {
        token_similarity(subject.query(query), self.vocab[vocab_id as usize].forms())
    }

    /// σ ≥ [`TOKEN_FLOOR`] for each subject query (its full tokens, then its concatenated form)
    /// and each list token sharing a blocking key with it; and the names containing those.
    fn retrieve(&self, subject: &Prepared) -> (HashMap<(usize, u32), u16>, Vec<u32>) {
        let mut sigmas = HashMap::new();
        let mut names = HashSet::new();
        for query in 0..subject.query_count() {
            let forms = subject.query(query);
            if forms.written.len() < 2 {
                continue;
            }
            let mut looked_at = HashSet::new();
            for key in keys(forms.written, forms.phonetic) {
                for &vocab_id in self.keys.get(&key).map_or(&[][..], Vec::as_slice) {
                    if !looked_at.insert(vocab_id) {
                        continue;
                    }
                    let sigma = self.query_similarity(subject, query, vocab_id);
                    sigmas.insert((query, vocab_id), sigma);
                    if sigma > 0 {
                        names.extend(self.postings[vocab_id as usize].iter().copied());
                    }
                }
            }
        }
        let mut names: Vec<u32> = names.into_iter().collect();
        names.sort_unstable();
        (sigmas, names)
    }

    fn score_names(
        &self,
        subject: &Prepared,
        names: impl IntoIterator<Item = u32>,
        threshold: Score,
        sigma: impl Fn(usize, u32) -> u16,
    ) -> Vec<Hit> {
        // Per entry: the best score after the alias penalty, and the name that gave it.
        let mut best: HashMap<u32, (u16, u32, NameMatch)> = HashMap::new();
        let floor = threshold.per_mille().saturating_sub(MAX_BONUS);
        for name_id in names {
            let name = &self.names[name_id as usize];
            let matched = self.score_name(subject, name, &sigma);
            if matched.score == 0 || matched.score < floor {
                continue;
            }
            let entry = &self.entries[name.entry as usize];
            let quality_penalty = match name.alias.map(|i| entry.aliases[i as usize].quality) {
                Some(AliasQuality::Low) => LOW_QUALITY_ALIAS_PENALTY,
                _ => 0,
            };
            let adjusted = matched.score.saturating_sub(quality_penalty);
            let better = match best.get(&name.entry) {
                None => true,
                Some((score, id, _)) => (adjusted, std::cmp::Reverse(name_id)) > (*score, std::cmp::Reverse(*id)),
            };
            if better {
                best.insert(name.entry, (adjusted, name_id, matched));
            }
        }
        let mut hits: Vec<Hit> = best
            .into_iter()
            .filter_map(|(entry_index, (adjusted, name_id, matched))| {
                let entry = &self.entries[entry_index as usize];
                let evidence = Evidence::weigh(subject.subject, entry);
                let score = evidence.apply(adjusted);
                (score >= threshold.per_mille()).then(|| {
                    let name = &self.names[name_id as usize];
                    self.hit(subject, entry, name, &matched, &evidence, score)
                })
            })
            .collect();
        hits.sort_by(|a, b| {
            b.score.cmp(&a.score).then(a.source.cmp(&b.source)).then_with(|| a.entry_id.cmp(&b.entry_id))
        });
        hits
    }

    fn score_name(&self, subject: &Prepared, name: &IndexedName, sigma: &impl Fn(usize, u32) -> u16) -> NameMatch {
        let mut pairs: Vec<(u16, usize, usize)> = Vec::new();
        for (i, s) in subject.tokens.iter().enumerate() {
            for (j, &vocab_id) in name.tokens.iter().enumerate() {
                let c = &self.vocab[vocab_id as usize];
                let similarity =
                    if s.initial || c.initial { initial_similarity(&s.chars, &c.chars) } else { sigma(i, vocab_id) };
                if similarity > 0 {
                    pairs.push((similarity, i, j));
                }
            }
        }
        let weights: Vec<u64> = name.tokens.iter().map(|&id| weight(&self.vocab[id as usize].chars)).collect();
        let assigned =
            assign(pairs, subject.tokens.len(), name.tokens.len(), |i, j| subject.tokens[i].weight + weights[j]);
        let subject_weights: Vec<u64> = subject.tokens.iter().map(|t| t.weight).collect();
        let token_score = coverage_score(&assigned, &subject_weights, &weights);
        // One shared token ("Kim", "Ali") is not enough against a name of several.
        let token_score =
            if assigned.len() < 2 && name.tokens.len() > 1 { token_score.min(SINGLE_TOKEN_CAP) } else { token_score };
        // The whole-name comparison is for token boundaries that differ ("Alqaida", "Jongun"), so
        // it counts only when the concatenated forms are themselves similar.
        let whole = if sigma(subject.compact_query(), name.compact) > 0 {
            let name_compact = &self.vocab[name.compact as usize].chars;
            levenshtein_per_mille(&subject.joined, &name.joined)
                .max(levenshtein_per_mille(&subject.compact, name_compact))
        } else {
            0
        };
        NameMatch { score: token_score.max(whole), token_score, whole_score: whole, pairs: assigned }
    }

    fn hit(
        &self,
        subject: &Prepared,
        entry: &ListEntry,
        name: &IndexedName,
        matched: &NameMatch,
        evidence: &Evidence,
        score: u16,
    ) -> Hit {
        let matched_name = match name.alias {
            Some(i) => entry.aliases[i as usize].name.clone(),
            None => entry.name.clone(),
        };
        let mut why = format!("{} {} '{}'", entry.source, entry.id, entry.name);
        if let Some(i) = name.alias {
            let quality = match entry.aliases[i as usize].quality {
                AliasQuality::Good => "alias",
                AliasQuality::Low => "low-quality alias",
            };
            let _ = write!(why, " {quality} '{matched_name}'");
        }
        if matched.token_score >= matched.whole_score {
            let mut pairs = matched.pairs.clone();
            pairs.sort_by_key(|p| p.1);
            let described: Vec<String> = pairs
                .iter()
                .map(|&(sigma, i, j)| {
                    let s = &subject.tokens[i].text;
                    let c = &self.vocab[name.tokens[j] as usize].text;
                    if s == c {
                        format!("{s}={c}")
                    } else if subject.tokens[i].initial || self.vocab[name.tokens[j] as usize].initial {
                        format!("{s}={c} (initial, {sigma})")
                    } else {
                        format!("{s}~{c} ({sigma})")
                    }
                })
                .collect();
            if described.is_empty() {
                why.push_str(": no tokens matched");
            } else {
                let _ = write!(why, ": matched tokens {}", described.join(", "));
            }
            let unmatched: Vec<&str> = (0..name.tokens.len())
                .filter(|j| !matched.pairs.iter().any(|p| p.2 == *j))
                .map(|j| self.vocab[name.tokens[j] as usize].text.as_str())
                .collect();
            if !unmatched.is_empty() {
                let _ = write!(why, "; list tokens not given: {}", unmatched.join(", "));
            }
            let extra: Vec<&str> = (0..subject.tokens.len())
                .filter(|i| !matched.pairs.iter().any(|p| p.1 == *i))
                .map(|i| subject.tokens[i].text.as_str())
                .collect();
            if !extra.is_empty() {
                let _ = write!(why, "; subject tokens not on the list: {}", extra.join(", "));
            }
        } else {
            let _ = write!(
                why,
                ": whole name '{}' ~ '{}'",
                subject.joined.iter().collect::<String>(),
                name.joined.iter().collect::<String>()
            );
        }
        let _ = write!(why, "; name score {}", matched.score);
        if name.alias.is_some_and(|i| entry.aliases[i as usize].quality == AliasQuality::Low) {
            let _ = write!(why, "; low-quality alias -{LOW_QUALITY_ALIAS_PENALTY}");
        }
        evidence.describe(subject.subject, &mut why);
        let _ = write!(why, "; score {score}");
        Hit {
            source: entry.source,
            entry_id: entry.id.clone(),
            entry_name: entry.name.clone(),
            matched_name,
            matched_alias: name.alias.is_some(),
            name_score: Score::saturating(matched.score),
            score: Score::saturating(score),
            why,
        }
    }
}

#[derive(Default)]
struct Builder {
    vocab: Vec<Token>,
    ids: HashMap<String, u32>,
    postings: Vec<Vec<u32>>,
    keys: HashMap<Key, Vec<u32>>,
}

impl Builder {
    /// The vocabulary id of `text`, recording that `name_id` uses it.
    fn token(&mut self, text: &str, name_id: u32) -> u32 {
        let id = match self.ids.get(text) {
            Some(&id) => id,
            None => {
                let id = u32::try_from(self.vocab.len()).unwrap_or(u32::MAX);
                let (written, sounded) = (chars(text), chars(&phonetic(text)));
                let token = Token {
                    text: text.to_owned(),
                    bags: (bag(&written), bag(&sounded)),
                    chars: written,
                    phonetic: sounded,
                    initial: is_initial(text),
                };
                for key in keys(&token.chars, &token.phonetic) {
                    self.keys.entry(key).or_default().push(id);
                }
                self.vocab.push(token);
                self.postings.push(Vec::new());
                self.ids.insert(text.to_owned(), id);
                id
            }
        };
        let postings = &mut self.postings[id as usize];
        if postings.last() != Some(&name_id) {
            postings.push(name_id);
        }
        id
    }
}

/// The blocking keys of a token, as written and as its phonetic key: its first [`PREFIX`]
/// characters and every string made by deleting one of them (a token of two characters is its
/// own only key). Two tokens within one edit of each other in those characters share a key
/// (SymSpell's deletion neighbourhood), and the buckets stay small. Initials have none.
fn keys(chars: &[char], phonetic_chars: &[char]) -> Vec<Key> {
    let mut keys = Vec::with_capacity(10);
    for form in [chars, phonetic_chars] {
        let prefix = &form[..form.len().min(PREFIX)];
        if prefix.len() < 2 {
            continue;
        }
        keys.push(key(prefix.iter()));
        if prefix.len() >= 3 {
            for skip in 0..prefix.len() {
                keys.push(key(prefix.iter().enumerate().filter(|(i, _)| *i != skip).map(|(_, c)| c)));
            }
        }
    }
    keys.sort_unstable();
    keys.dedup();
    keys
}

fn key<'a>(chars: impl Iterator<Item = &'a char>) -> Key {
    let mut key = ['\0'; PREFIX];
    for (slot, c) in key.iter_mut().zip(chars) {
        *slot = *c;
    }
    key
}

fn chars(text: &str) -> Vec<char> {
    text.chars().collect()
}

/// A subject's tokens with what scoring needs precomputed. Queries are numbered: the tokens in
/// their sorted order, then the concatenated form when there are several tokens.
struct Prepared<'a> {
    subject: &'a Subject,
    tokens: Vec<PreparedToken>,
    joined: Vec<char>,
    compact: Vec<char>,
    compact_phonetic: Vec<char>,
    compact_bags: (Bag, Bag),
}

struct PreparedToken {
    text: String,
    chars: Vec<char>,
    phonetic: Vec<char>,
    bags: (Bag, Bag),
    initial: bool,
    weight: u64,
}

impl<'a> Prepared<'a> {
    fn new(subject: &'a Subject) -> Self {
        let normalized = subject.normalized();
        let tokens = normalized
            .tokens()
            .iter()
            .map(|t| {
                let (written, sounded) = (chars(t), chars(&phonetic(t)));
                PreparedToken {
                    text: t.clone(),
                    weight: weight(&written),
                    bags: (bag(&written), bag(&sounded)),
                    chars: written,
                    phonetic: sounded,
                    initial: is_initial(t),
                }
            })
            .collect();
        let (compact, compact_phonetic) = (chars(normalized.compact()), chars(&phonetic(normalized.compact())));
        Self {
            subject,
            tokens,
            joined: chars(&normalized.joined()),
            compact_bags: (bag(&compact), bag(&compact_phonetic)),
            compact,
            compact_phonetic,
        }
    }

    fn query_count(&self) -> usize {
        self.tokens.len() + usize::from(self.tokens.len() > 1)
    }

    fn compact_query(&self) -> usize {
        if self.tokens.len() > 1 { self.tokens.len() } else { 0 }
    }

    /// The characters and phonetic key of one query.
    fn query(&self, query: usize) -> Forms<'_> {
        match self.tokens.get(query) {
            Some(t) => Forms { written: &t.chars, phonetic: &t.phonetic, bags: &t.bags },
            None => Forms { written: &self.compact, phonetic: &self.compact_phonetic, bags: &self.compact_bags },
        }
    }
}

struct NameMatch {
    score: u16,
    token_score: u16,
    whole_score: u16,
    /// (σ, subject token index, list token index).
    pairs: Vec<(u16, usize, usize)>,
}

/// A token's weight in the coverage sums: its length in characters.
fn weight(chars: &[char]) -> u64 {
    chars.len() as u64
}

/// Greedy assignment: best σ first, then the heavier pair, then the lower indices; each token is
/// used at most once.
fn assign(
    mut pairs: Vec<(u16, usize, usize)>,
    subject_len: usize,
    list_len: usize,
    pair_weight: impl Fn(usize, usize) -> u64,
) -> Vec<(u16, usize, usize)> {
    pairs.sort_by(|a, b| {
        b.0.cmp(&a.0).then_with(|| pair_weight(b.1, b.2).cmp(&pair_weight(a.1, a.2))).then((a.1, a.2).cmp(&(b.1, b.2)))
    });
    let mut subject_used = vec![false; subject_len];
    let mut list_used = vec![false; list_len];
    let mut assigned = Vec::new();
    for (sigma, i, j) in pairs {
        if !subject_used[i] && !list_used[j] {
            subject_used[i] = true;
            list_used[j] = true;
            assigned.push((sigma, i, j));
        }
    }
    assigned
}

/// The token score from the assigned pairs: see the module documentation. Both coverages are
/// kept as exact fractions (numerator, denominator) until the final per-mille.
fn coverage_score(assigned: &[(u16, usize, usize)], subject_weights: &[u64], list_weights: &[u64]) -> u16 {
    let subject_matched: Vec<bool> = (0..subject_weights.len()).map(|i| assigned.iter().any(|p| p.1 == i)).collect();
    let list_matched: Vec<bool> = (0..list_weights.len()).map(|j| assigned.iter().any(|p| p.2 == j)).collect();
    let subject_covered: u128 =
        assigned.iter().map(|&(sigma, i, _)| u128::from(sigma) * u128::from(subject_weights[i])).sum();
    let list_covered: u128 =
        assigned.iter().map(|&(sigma, _, j)| u128::from(sigma) * u128::from(list_weights[j])).sum();
    // A side whose counterpart is wholly matched may omit one token at half its weight: the
    // subject leaving out a patronymic or second surname, or adding "Network" to a listed name.
    let subject_total = side_weight(subject_weights, &subject_matched, list_matched.iter().all(|m| *m));
    let list_total = side_weight(list_weights, &list_matched, subject_matched.iter().all(|m| *m));
    // Coverages as fractions of 2000 (the weights are doubled in side_weight).
    let cs = (2 * subject_covered, subject_total);
    let cc = (2 * list_covered, list_total);
    if cs.1 == 0 || cc.1 == 0 {
        return 0;
    }
    // Compare cs and cc exactly by cross-multiplying; the better-covered side counts three times.
    let (high, low) = if cs.0 * cc.1 >= cc.0 * cs.1 { (cs, cc) } else { (cc, cs) };
    per_mille_of(3 * high.0 * low.1 + low.0 * high.1, 4 * high.1 * low.1 * 1000)
}

/// Twice the weight of one side's tokens, the heaviest unmatched token once only when
/// `forgiving`.
fn side_weight(weights: &[u64], matched: &[bool], forgiving: bool) -> u128 {
    let doubled: u128 = weights.iter().map(|w| 2 * u128::from(*w)).sum();
    let heaviest_unmatched = weights.iter().zip(matched).filter(|(_, m)| !**m).map(|(w, _)| *w).max().unwrap_or(0);
    if forgiving { doubled - u128::from(heaviest_unmatched) } else { doubled }
}

/// A token as written and as its phonetic key, with their character bags.
#[derive(Clone, Copy)]
struct Forms<'a> {
    written: &'a [char],
    phonetic: &'a [char],
    bags: &'a (Bag, Bag),
}

/// Character counts in 32 buckets (the code point modulo 32; a–z each have their own). Two
/// strings cannot be closer in edit distance than their bags allow, so a bag comparison rules
/// most pairs out before any quadratic work. Collisions only make the bound looser, never wrong.
type Bag = [u16; 32];

fn bag(chars: &[char]) -> Bag {
    let mut bag = [0u16; 32];
    for c in chars {
        let slot = &mut bag[(u32::from(*c) % 32) as usize];
        *slot = slot.saturating_add(1);
    }
    bag
}

/// σ for two tokens of two or more characters (0 for anything shorter, which initials handle):
/// see the module documentation.
fn token_similarity(a: Forms<'_>, b: Forms<'_>) -> u16 {
    if a.written.len() < 2 || b.written.len() < 2 {
        return 0;
    }
    if a.written == b.written {
        return 1000;
    }
    let written =
        if could_reach_floor(a.written, &a.bags.0, b.written, &b.bags.0) { blend(a.written, b.written) } else { 0 };
    let sounded = if a.phonetic == b.phonetic {
        PHONETIC_EQUAL_SIMILARITY
    } else if could_reach_floor(a.phonetic, &a.bags.1, b.phonetic, &b.bags.1) {
        blend(a.phonetic, b.phonetic)
    } else {
        0
    };
    let sigma = written.max(sounded).min(999);
    if sigma < TOKEN_FLOOR { 0 } else { sigma }
}

/// The Levenshtein ratio a blend must have: the mean with Jaro-Winkler (at most 1000) reaches
/// [`TOKEN_FLOOR`] only if the ratio reaches 2·floor − 1000.
const RATIO_NEEDED: u64 = 2 * TOKEN_FLOOR as u64 - 1000;

/// An exact bound: the edit distance is at least the longer length minus the characters the two
/// bags share, so the ratio is at most shared / longer.
fn could_reach_floor(a: &[char], a_bag: &Bag, b: &[char], b_bag: &Bag) -> bool {
    let longer = a.len().max(b.len()) as u64;
    let shared: u64 = a_bag.iter().zip(b_bag).map(|(x, y)| u64::from(*x.min(y))).sum();
    shared * 1000 >= RATIO_NEEDED * longer
}

/// The mean of Jaro-Winkler and the Levenshtein ratio; 0 as soon as the ratio alone shows the
/// mean cannot reach [`TOKEN_FLOOR`].
fn blend(a: &[char], b: &[char]) -> u16 {
    let ratio = levenshtein_per_mille(a, b);
    if u64::from(ratio) < RATIO_NEEDED {
        return 0;
    }
    // The mean of two per-mille values is at most 1000.
    u16::try_from((u32::from(jaro_winkler_per_mille(a, b)) + u32::from(ratio)) / 2).unwrap_or(1000)
}

fn initial_similarity(a: &[char], b: &[char]) -> u16 {
    if a == b {
        1000
    } else if a.len() == 1 && b.len() == 1 {
        0
    } else if a.first() == b.first() {
        INITIAL_SIMILARITY
    } else {
        0
    }
}

/// `numerator / denominator` in per-mille, rounded down; `denominator` already includes the
/// factor 1000 of the scale where the caller needs it.
fn per_mille_of(numerator: u128, denominator: u128) -> u16 {
    if denominator == 0 {
        return 0;
    }
    u16::try_from((numerator * 1000 / denominator).min(1000)).unwrap_or(1000)
}

/// Jaro-Winkler similarity in per-mille, rounded down, from the exact rational value:
/// jaro = (m/|a| + m/|b| + (m−t)/m) / 3, and when jaro > 0.7 the Winkler boost
/// jw = jaro + ℓ·0.1·(1 − jaro) with ℓ the common prefix length up to 4.
pub(crate) fn jaro_winkler_per_mille(a: &[char], b: &[char]) -> u16 {
    if a.is_empty() || b.is_empty() {
        return if a == b { 1000 } else { 0 };
    }
    let window = (a.len().max(b.len()) / 2).saturating_sub(1);
    let mut a_matched = vec![false; a.len()];
    let mut b_matched = vec![false; b.len()];
    let mut m = 0u64;
    for (i, ca) in a.iter().enumerate() {
        let lo = i.saturating_sub(window);
        let hi = (i + window + 1).min(b.len());
        for j in lo..hi {
            if !b_matched[j] && b[j] == *ca {
                a_matched[i] = true;
                b_matched[j] = true;
                m += 1;
                break;
            }
        }
    }
    if m == 0 {
        return 0;
    }
    let mut half_transpositions = 0u64;
    let mut k = 0;
    for (i, ca) in a.iter().enumerate() {
        if a_matched[i] {
            while !b_matched[k] {
                k += 1;
            }
            if *ca != b[k] {
                half_transpositions += 1;
            }
            k += 1;
        }
    }
    let t = half_transpositions / 2;
    let (la, lb) = (a.len() as u64, b.len() as u64);
    // jaro = num / den exactly.
    let num = u128::from(m * m * lb + m * m * la + (m - t) * la * lb);
    let den = u128::from(3 * la * lb * m);
    let prefix = a.iter().zip(b).take(4).take_while(|(x, y)| x == y).count() as u128;
    if 10 * num > 7 * den { per_mille_of(10 * num + prefix * (den - num), 10 * den) } else { per_mille_of(num, den) }
}

/// 1000 · (1 − distance / longer length), rounded down; the Levenshtein distance counts
/// insertions, deletions and substitutions.
pub(crate) fn levenshtein_per_mille(a: &[char], b: &[char]) -> u16 {
    let longer = a.len().max(b.len()) as u64;
    if longer == 0 {
        return 1000;
    }
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        current[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        std::mem::swap(&mut previous, &mut current);
    }
    let distance = previous[b.len()] as u64;
    per_mille_of(u128::from(longer - distance), u128::from(longer))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Agreement {
    Agrees,
    /// Close but not the same (same year, other day; a year apart): neither raises nor lowers.
    Near,
    Differs,
    /// One side does not say.
    Unknown,
}

/// The non-name evidence for one entry.
struct Evidence {
    dob: Agreement,
    dob_detail: Option<BirthDate>,
    country: Agreement,
    kind: Agreement,
}

impl Evidence {
    fn weigh(subject: &Subject, entry: &ListEntry) -> Self {
        let (dob, dob_detail) = match subject.date_of_birth() {
            Some(date) if !entry.dates_of_birth.is_empty() => entry
                .dates_of_birth
                .iter()
                .map(|listed| (compare_dates(date, *listed), Some(*listed)))
                .min_by_key(|(agreement, _)| match agreement {
                    Agreement::Agrees => 0,
                    Agreement::Near => 1,
                    Agreement::Differs => 2,
                    Agreement::Unknown => 3,
                })
                .unwrap_or((Agreement::Unknown, None)),
            _ => (Agreement::Unknown, None),
        };
        let country = match subject.country() {
            Some(country) if !entry.countries.is_empty() => {
                if entry.countries.contains(&country) {
                    Agreement::Agrees
                } else {
                    Agreement::Differs
                }
            }
            _ => Agreement::Unknown,
        };
        let kind = match (subject.kind(), entry.kind) {
            (SubjectKind::Unknown, _) => Agreement::Unknown,
            (SubjectKind::Individual, EntryKind::Individual) => Agreement::Agrees,
            (SubjectKind::Individual, _) | (SubjectKind::Organisation, EntryKind::Individual) => Agreement::Differs,
            (SubjectKind::Organisation, _) => Agreement::Agrees,
        };
        Self { dob, dob_detail, country, kind }
    }

    fn apply(&self, name_score: u16) -> u16 {
        let mut score = i32::from(name_score);
        score += match self.dob {
            Agreement::Agrees => i32::from(DOB_AGREES_BONUS),
            Agreement::Differs => -i32::from(DOB_DIFFERS_PENALTY),
            Agreement::Near | Agreement::Unknown => 0,
        };
        score += match self.country {
            Agreement::Agrees => i32::from(COUNTRY_AGREES_BONUS),
            Agreement::Differs => -i32::from(COUNTRY_DIFFERS_PENALTY),
            Agreement::Near | Agreement::Unknown => 0,
        };
        if self.kind == Agreement::Differs {
            score -= i32::from(KIND_DIFFERS_PENALTY);
        }
        u16::try_from(score.clamp(0, 1000)).unwrap_or(0)
    }

    fn describe(&self, subject: &Subject, why: &mut String) {
        if let (Some(date), Some(listed)) = (subject.date_of_birth(), self.dob_detail) {
            let _ = match self.dob {
                Agreement::Agrees => write!(why, "; date of birth {date} agrees with {listed} +{DOB_AGREES_BONUS}"),
                Agreement::Near => write!(why, "; date of birth {date} is close to {listed} (no change)"),
                Agreement::Differs => {
                    write!(why, "; date of birth {date} differs from the listed ones -{DOB_DIFFERS_PENALTY}")
                }
                Agreement::Unknown => Ok(()),
            };
        }
        if let Some(country) = subject.country() {
            let _ = match self.country {
                Agreement::Agrees => write!(why, "; country {country} agrees +{COUNTRY_AGREES_BONUS}"),
                Agreement::Differs => {
                    write!(why, "; country {country} differs from the listed ones -{COUNTRY_DIFFERS_PENALTY}")
                }
                Agreement::Near | Agreement::Unknown => Ok(()),
            };
        }
        if self.kind == Agreement::Differs {
            let _ = write!(why, "; kind differs -{KIND_DIFFERS_PENALTY}");
        }
    }
}

/// How a subject's date of birth compares with one listed date.
fn compare_dates(subject: PartialDate, listed: BirthDate) -> Agreement {
    let year = i32::from(subject.year());
    match listed {
        BirthDate::On(date) => {
            let gap = (year - i32::from(date.year())).abs();
            let same = |a: Option<u8>, b: Option<u8>| a.zip(b).is_none_or(|(a, b)| a == b);
            if gap == 0 && same(subject.month(), date.month()) && same(subject.day(), date.day()) {
                Agreement::Agrees
            } else if gap <= 1 {
                Agreement::Near
            } else {
                Agreement::Differs
            }
        }
        BirthDate::Circa(circa) => match (year - i32::from(circa)).abs() {
            0 => Agreement::Agrees,
            1..=3 => Agreement::Near,
            _ => Agreement::Differs,
        },
        BirthDate::Between(from, to) => {
            let (from, to) = (i32::from(from.min(to)), i32::from(from.max(to)));
            if (from..=to).contains(&year) {
                Agreement::Agrees
            } else if (from - 1..=to + 1).contains(&year) {
                Agreement::Near
            } else {
                Agreement::Differs
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::screening::{Alias, Country, ListSource};

    fn c(text: &str) -> Vec<char> {
        text.chars().collect()
    }

    fn sigma(a: &str, b: &str) -> u16 {
        let (aw, ap, bw, bp) = (c(a), c(&phonetic(a)), c(b), c(&phonetic(b)));
        let (abags, bbags) = ((bag(&aw), bag(&ap)), (bag(&bw), bag(&bp)));
        token_similarity(
            Forms { written: &aw, phonetic: &ap, bags: &abags },
            Forms { written: &bw, phonetic: &bp, bags: &bbags },
        )
    }

    #[test]
    fn jaro_winkler_matches_the_published_examples_exactly() {
        // Winkler's examples: 0.961, 0.840 and 0.813, rounded down to per-mille.
        assert_eq!(jaro_winkler_per_mille(&c("martha"), &c("marhta")), 961);
        assert_eq!(jaro_winkler_per_mille(&c("dwayne"), &c("duane")), 840);
        assert_eq!(jaro_winkler_per_mille(&c("dixon"), &c("dicksonx")), 813);
        assert_eq!(jaro_winkler_per_mille(&c("putin"), &c("putin")), 1000);
        assert_eq!(jaro_winkler_per_mille(&c("abc"), &c("xyz")), 0);
        assert_eq!(jaro_winkler_per_mille(&c(""), &c("")), 1000);
        assert_eq!(jaro_winkler_per_mille(&c("a"), &c("")), 0);
        // Symmetric.
        assert_eq!(
            jaro_winkler_per_mille(&c("vladimir"), &c("vladimr")),
            jaro_winkler_per_mille(&c("vladimr"), &c("vladimir"))
        );
    }

    #[test]
    fn levenshtein_ratio_is_one_minus_distance_over_the_longer_length() {
        assert_eq!(levenshtein_per_mille(&c("kitten"), &c("sitting")), 571); // distance 3 of 7
        assert_eq!(levenshtein_per_mille(&c("putin"), &c("puttin")), 833); // 1 of 6
        assert_eq!(levenshtein_per_mille(&c(""), &c("")), 1000);
        assert_eq!(levenshtein_per_mille(&c("abc"), &c("")), 0);
    }

    #[test]
    fn token_similarity_rules() {
        assert_eq!(sigma("putin", "putin"), 1000);
        // Misspellings: the mean of Jaro-Winkler and the Levenshtein ratio.
        assert_eq!(sigma("vladimr", "vladimir"), 925);
        // "sberbnak": two substitutions in eight, Levenshtein ratio 750.
        assert_eq!(sigma("sberbnak", "sberbank"), (jaro_winkler_per_mille(&c("sberbnak"), &c("sberbank")) + 750) / 2);
        // Same phonetic key, different spelling.
        assert_eq!(sigma("qaeda", "qaida"), PHONETIC_EQUAL_SIMILARITY);
        assert_eq!(sigma("mohamed", "mohammed"), PHONETIC_EQUAL_SIMILARITY);
        assert_eq!(sigma("wladimir", "vladimir"), PHONETIC_EQUAL_SIMILARITY);
        // Below the floor: no similarity at all.
        assert_eq!(sigma("putin", "petrov"), 0);
        assert_eq!(sigma("kim", "kin"), 0);
        assert_eq!(sigma("jong", "chong"), 0);
        // Single letters are initials, handled apart.
        assert_eq!(sigma("v", "v"), 0);
        // Never 1000 unless equal, however long the tokens.
        let long = "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz";
        assert!(sigma(long, &long.replacen('z', "y", 1)) < 1000);
    }

    #[test]
    fn the_bag_bound_never_rules_out_a_pair_that_reaches_the_floor() {
        let words = [
            "vladimir",
            "vladimr",
            "wladimir",
            "putin",
            "puttin",
            "poutine",
            "pution",
            "lavrov",
            "lawrow",
            "sergei",
            "serguei",
            "sergey",
            "qaida",
            "qaeda",
            "alqaida",
            "mohammed",
            "muhamad",
            "yusuf",
            "youssef",
            "guard",
            "gaurd",
            "guards",
            "kim",
            "kin",
            "jong",
            "jung",
            "chong",
            "aerocaribbean",
            "caribbean",
            "aero",
            "air",
        ];
        for a in words {
            for b in words {
                let (aw, bw) = (c(a), c(b));
                let exact = blend(&aw, &bw);
                if exact >= TOKEN_FLOOR {
                    assert!(could_reach_floor(&aw, &bag(&aw), &bw, &bag(&bw)), "{a} {b}");
                }
            }
        }
    }

    #[test]
    fn initials_match_the_first_letter_at_a_reduced_similarity() {
        assert_eq!(initial_similarity(&c("v"), &c("vladimir")), INITIAL_SIMILARITY);
        assert_eq!(initial_similarity(&c("vladimir"), &c("v")), INITIAL_SIMILARITY);
        assert_eq!(initial_similarity(&c("v"), &c("v")), 1000);
        assert_eq!(initial_similarity(&c("v"), &c("w")), 0);
        assert_eq!(initial_similarity(&c("v"), &c("putin")), 0);
    }

    #[test]
    fn coverage_forgives_one_omitted_token_only_when_the_other_side_is_whole() {
        // "vladimir putin" against "putin vladimir vladimirovich": the patronymic counts half.
        // cs = 1000, cc = 2·13 / (2·26 − 13) = 2/3, score = (3·1000 + 666.7) / 4.
        let pairs = [(1000, 0, 0), (1000, 1, 1)];
        assert_eq!(coverage_score(&pairs, &[5, 8], &[5, 8, 13]), 916);
        // The same name given in full.
        assert_eq!(coverage_score(&[(1000, 0, 0), (1000, 1, 1), (1000, 2, 2)], &[5, 8, 13], &[5, 8, 13]), 1000);
        // "kim jong il" against "kim jong un": both sides have an unmatched token, so neither
        // is forgiven: 7/9 on both sides.
        assert_eq!(coverage_score(&[(1000, 0, 0), (1000, 1, 1)], &[3, 4, 2], &[3, 4, 2]), 777);
        // An extra word on the subject ("al qaida network" against "al qaida"): the list side is
        // whole, so the subject's extra token counts half and the list side counts three times.
        assert_eq!(coverage_score(&[(1000, 0, 0), (1000, 1, 1)], &[2, 5, 7], &[2, 5]), 916);
        // Only the heaviest unmatched token is forgiven: "ibrahim ali" against a name of eight.
        let long = [2, 2, 3, 5, 5, 7, 7, 8];
        assert_eq!(coverage_score(&[(1000, 0, 5), (1000, 1, 2)], &[7, 3], &long), 821);
        assert_eq!(coverage_score(&[], &[3], &[3]), 0);
    }

    #[test]
    fn assignment_takes_the_best_pairs_first_and_each_token_once() {
        // Subject token 0 is close to both list tokens; the better pair wins and token 1 takes
        // what is left.
        let pairs = vec![(900, 0, 0), (950, 0, 1), (850, 1, 1), (800, 1, 0)];
        assert_eq!(assign(pairs, 2, 2, |_, _| 1), [(950, 0, 1), (800, 1, 0)]);
        // Equal σ: the heavier pair first.
        let pairs = vec![(800, 0, 0), (800, 0, 1)];
        assert_eq!(assign(pairs, 1, 2, |_, j| if j == 1 { 13 } else { 8 }), [(800, 0, 1)]);
    }

    #[test]
    fn dates_of_birth_agree_come_close_or_differ() {
        let d = |text: &str| PartialDate::parse(text).expect("date");
        let on = |text: &str| BirthDate::On(d(text));
        assert_eq!(compare_dates(d("1952-10-07"), on("1952-10-07")), Agreement::Agrees);
        assert_eq!(compare_dates(d("1952"), on("1952-10-07")), Agreement::Agrees);
        assert_eq!(compare_dates(d("1952-10-07"), on("1952")), Agreement::Agrees);
        assert_eq!(compare_dates(d("1952-10"), on("1952-10-07")), Agreement::Agrees);
        assert_eq!(compare_dates(d("1952-11-07"), on("1952-10-07")), Agreement::Near);
        assert_eq!(compare_dates(d("1952-10-08"), on("1952-10-07")), Agreement::Near);
        assert_eq!(compare_dates(d("1953"), on("1952-10-07")), Agreement::Near);
        assert_eq!(compare_dates(d("1954"), on("1952-10-07")), Agreement::Differs);
        assert_eq!(compare_dates(d("1960"), BirthDate::Circa(1960)), Agreement::Agrees);
        assert_eq!(compare_dates(d("1963"), BirthDate::Circa(1960)), Agreement::Near);
        assert_eq!(compare_dates(d("1964"), BirthDate::Circa(1960)), Agreement::Differs);
        assert_eq!(compare_dates(d("1976"), BirthDate::Between(1975, 1977)), Agreement::Agrees);
        assert_eq!(compare_dates(d("1978"), BirthDate::Between(1975, 1977)), Agreement::Near);
        assert_eq!(compare_dates(d("1979"), BirthDate::Between(1975, 1977)), Agreement::Differs);
        assert_eq!(compare_dates(d("1976"), BirthDate::Between(1977, 1975)), Agreement::Agrees, "reversed range");
    }

    #[test]
    fn blocking_keys_bring_near_spellings_together() {
        let shares = |a: &str, b: &str| {
            let ka = keys(&c(a), &c(&phonetic(a)));
            keys(&c(b), &c(&phonetic(b))).iter().any(|k| ka.contains(k))
        };
        assert!(shares("guard", "gaurd"), "a transposition");
        assert!(shares("vladimir", "vladmir"), "a deletion");
        assert!(shares("putin", "poutine"), "an insertion");
        assert!(shares("osama", "usama"), "a different first letter");
        assert!(shares("wladimir", "vladimir"), "the phonetic key");
        assert!(shares("un", "eun"));
        assert!(!shares("putin", "lavrov"));
        assert!(keys(&c("v"), &c("v")).is_empty(), "initials are not keyed");
    }

    fn entry(id: &str, kind: EntryKind, name: &str) -> ListEntry {
        ListEntry::new(ListSource::OfacSdn, id, kind, name)
    }

    fn list() -> Screener {
        let mut kim = entry("1", EntryKind::Individual, "KIM, Jong Un");
        kim.dates_of_birth.push(BirthDate::On(PartialDate::parse("1984-01-08").expect("date")));
        kim.countries.push(Country::parse("KP").expect("KP"));
        let mut bank = entry("2", EntryKind::Organisation, "EXAMPLE BANK OF SOMEWHERE");
        bank.aliases.push(Alias::good("Example Bank of Somewhere Ltd."));
        bank.aliases.push(Alias::low("EXBANK"));
        let ship = entry("3", EntryKind::Vessel, "SEA STAR");
        Screener::new(vec![kim, bank, ship])
    }

    fn screen(name: &str, kind: SubjectKind, threshold: u16) -> Vec<Hit> {
        list().screen(&Subject::new(name, kind).expect("subject"), Score::saturating(threshold))
    }

    #[test]
    fn a_screener_can_be_shared_between_threads() {
        fn shared<T: Send + Sync>() {}
        shared::<Screener>();
    }

    #[test]
    fn aliases_that_normalise_alike_are_indexed_once() {
        // Kim's one name, the bank's name (its first alias is the same name) and its short
        // alias, the vessel's name.
        assert_eq!(list().name_count(), 4);
        assert_eq!(list().len(), 3);
    }

    #[test]
    fn one_shared_token_is_not_a_hit_against_a_longer_name() {
        let hits = screen("Kim", SubjectKind::Individual, 0);
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].name_score.per_mille(), SINGLE_TOKEN_CAP);
        assert!(screen("Kim", SubjectKind::Individual, DEFAULT_THRESHOLD.per_mille()).is_empty());
    }

    #[test]
    fn a_low_quality_alias_matches_at_a_penalty() {
        let hits = screen("Exbank", SubjectKind::Organisation, 0);
        assert_eq!(hits[0].matched_name, "EXBANK");
        assert_eq!(hits[0].name_score, Score::MAX);
        assert_eq!(hits[0].score.per_mille(), 1000 - LOW_QUALITY_ALIAS_PENALTY);
    }

    #[test]
    fn kind_mismatch_lowers_the_score() {
        let as_person = screen("Sea Star", SubjectKind::Individual, 0);
        assert_eq!(as_person[0].score.per_mille(), 1000 - KIND_DIFFERS_PENALTY);
        assert!(as_person[0].why.ends_with("; kind differs -100; score 900"), "{}", as_person[0].why);
        assert_eq!(screen("Sea Star", SubjectKind::Organisation, 0)[0].score, Score::MAX);
        assert_eq!(screen("Sea Star", SubjectKind::Unknown, 0)[0].score, Score::MAX);
    }

    #[test]
    fn the_score_is_clamped_and_hits_are_ordered_best_first() {
        let subject = Subject::new("Kim Jong Un", SubjectKind::Individual)
            .expect("subject")
            .with_date_of_birth(PartialDate::parse("1984").expect("date"))
            .with_country(Country::parse("KP").expect("KP"));
        let hits = list().screen(&subject, DEFAULT_THRESHOLD);
        assert_eq!(hits[0].score, Score::MAX, "1000 + 50 + 30 is clamped");
        let many = screen("Example Bank Star", SubjectKind::Unknown, 0);
        let scores: Vec<u16> = many.iter().map(|h| h.score.per_mille()).collect();
        let mut sorted = scores.clone();
        sorted.sort_unstable_by(|a, b| b.cmp(a));
        assert_eq!(scores, sorted);
    }
}
