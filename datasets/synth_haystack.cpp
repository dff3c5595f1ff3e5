// The haystack of the synthetic suite: seeded randomness, the procedural sentence grammar (word lists written
// for this project), the noise filler, and sentences read from a user's .txt files.
#include "datasets/synth_haystack.h"

#include <dirent.h>

#include <algorithm>
#include <limits>
#include <set>
#include <sstream>

#include "harness/common/error.h"
#include "harness/common/files.h"
#include "harness/common/paths.h"

namespace kvbench::synth {

// --- randomness ---------------------------------------------------------------------------------------------

std::uint64_t SynthRng::below(std::uint64_t n) {
  // Reject the top partial bucket so that every residue is equally likely.
  const std::uint64_t limit = std::numeric_limits<std::uint64_t>::max() - std::numeric_limits<std::uint64_t>::max() % n;
  std::uint64_t x = engine_();
  while (x >= limit) x = engine_();
  return x % n;
}

std::int64_t SynthRng::between(std::int64_t lo, std::int64_t hi) {
  return lo + static_cast<std::int64_t>(below(static_cast<std::uint64_t>(hi - lo) + 1));
}

double SynthRng::unit() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }

std::uint64_t mix64(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

// --- the grammar's words ------------------------------------------------------------------------------------
// Plain everyday words. Kept free of digits and of the needles' vocabulary ("number", "magic", "special",
// "key", "pass", "variable", "paragraph") so that filler never looks like an answer.

namespace {

struct Noun {
  const char* one;
  const char* many;
};
struct Verb {
  const char* base;
  const char* past;
};

const std::vector<Noun>& people() {
  static const std::vector<Noun> k = {
      {"farmer", "farmers"}, {"teacher", "teachers"}, {"sailor", "sailors"}, {"baker", "bakers"},
      {"painter", "painters"}, {"doctor", "doctors"}, {"merchant", "merchants"}, {"student", "students"},
      {"gardener", "gardeners"}, {"fisherman", "fishermen"}, {"carpenter", "carpenters"}, {"musician", "musicians"},
      {"poet", "poets"}, {"engineer", "engineers"}, {"nurse", "nurses"}, {"soldier", "soldiers"},
      {"traveler", "travelers"}, {"shepherd", "shepherds"}, {"librarian", "librarians"}, {"mayor", "mayors"},
      {"child", "children"}, {"neighbor", "neighbors"}, {"scientist", "scientists"}, {"pilot", "pilots"},
      {"tailor", "tailors"}, {"miller", "millers"}, {"hunter", "hunters"}, {"weaver", "weavers"},
      {"potter", "potters"}, {"singer", "singers"}, {"writer", "writers"}, {"cook", "cooks"},
      {"builder", "builders"}, {"clerk", "clerks"}, {"judge", "judges"}, {"monk", "monks"},
      {"captain", "captains"}, {"guard", "guards"}, {"messenger", "messengers"}, {"stranger", "strangers"},
      {"innkeeper", "innkeepers"}, {"blacksmith", "blacksmiths"}, {"astronomer", "astronomers"},
      {"historian", "historians"}, {"architect", "architects"}, {"mechanic", "mechanics"}, {"dancer", "dancers"},
      {"banker", "bankers"}, {"grandmother", "grandmothers"}, {"grandfather", "grandfathers"},
      {"apprentice", "apprentices"}, {"ferryman", "ferrymen"}, {"beekeeper", "beekeepers"},
      {"woodcutter", "woodcutters"}, {"shopkeeper", "shopkeepers"}, {"professor", "professors"},
      {"violinist", "violinists"}, {"mapmaker", "mapmakers"}, {"cobbler", "cobblers"}, {"jeweler", "jewelers"},
      {"fox", "foxes"}, {"owl", "owls"}, {"horse", "horses"}, {"dog", "dogs"}, {"cat", "cats"}, {"crow", "crows"},
      {"bear", "bears"}, {"wolf", "wolves"}, {"rabbit", "rabbits"}, {"goat", "goats"}, {"heron", "herons"},
      {"otter", "otters"}, {"badger", "badgers"}, {"sparrow", "sparrows"}, {"eagle", "eagles"}, {"mule", "mules"},
      {"donkey", "donkeys"}, {"pigeon", "pigeons"}, {"beaver", "beavers"}, {"squirrel", "squirrels"},
  };
  return k;
}

const std::vector<Noun>& things() {
  static const std::vector<Noun> k = {
      {"lantern", "lanterns"}, {"basket", "baskets"}, {"letter", "letters"}, {"map", "maps"},
      {"bridge", "bridges"}, {"boat", "boats"}, {"wagon", "wagons"}, {"bell", "bells"}, {"clock", "clocks"},
      {"ladder", "ladders"}, {"rope", "ropes"}, {"blanket", "blankets"}, {"kettle", "kettles"},
      {"fence", "fences"}, {"window", "windows"}, {"door", "doors"}, {"book", "books"}, {"song", "songs"},
      {"story", "stories"}, {"painting", "paintings"}, {"chair", "chairs"}, {"table", "tables"}, {"cart", "carts"},
      {"barrel", "barrels"}, {"candle", "candles"}, {"mirror", "mirrors"}, {"hat", "hats"}, {"coat", "coats"},
      {"scarf", "scarves"}, {"umbrella", "umbrellas"}, {"violin", "violins"}, {"drum", "drums"},
      {"flute", "flutes"}, {"roof", "roofs"}, {"wall", "walls"}, {"path", "paths"}, {"tower", "towers"},
      {"tent", "tents"}, {"sail", "sails"}, {"net", "nets"}, {"anchor", "anchors"}, {"compass", "compasses"},
      {"bucket", "buckets"}, {"shovel", "shovels"}, {"hammer", "hammers"}, {"saddle", "saddles"},
      {"cloak", "cloaks"}, {"jar", "jars"}, {"bottle", "bottles"}, {"cup", "cups"}, {"plate", "plates"},
      {"loaf", "loaves"}, {"pie", "pies"}, {"cake", "cakes"}, {"apple", "apples"}, {"pear", "pears"},
      {"plum", "plums"}, {"cherry", "cherries"}, {"lemon", "lemons"}, {"onion", "onions"}, {"carrot", "carrots"},
      {"cabbage", "cabbages"}, {"potato", "potatoes"}, {"pumpkin", "pumpkins"}, {"melon", "melons"},
      {"feather", "feathers"}, {"stone", "stones"}, {"pebble", "pebbles"}, {"shell", "shells"},
      {"leaf", "leaves"}, {"branch", "branches"}, {"flower", "flowers"}, {"rose", "roses"}, {"tulip", "tulips"},
      {"seed", "seeds"}, {"nest", "nests"}, {"egg", "eggs"}, {"ribbon", "ribbons"}, {"button", "buttons"},
      {"needle", "needles"}, {"thread", "threads"}, {"quilt", "quilts"}, {"pillow", "pillows"},
      {"carpet", "carpets"}, {"curtain", "curtains"}, {"envelope", "envelopes"}, {"parcel", "parcels"},
      {"journal", "journals"}, {"notebook", "notebooks"}, {"pencil", "pencils"}, {"brush", "brushes"},
      {"canvas", "canvases"}, {"statue", "statues"}, {"fountain", "fountains"}, {"gate", "gates"},
      {"chimney", "chimneys"}, {"bench", "benches"}, {"wheel", "wheels"}, {"sled", "sleds"}, {"kite", "kites"},
      {"puzzle", "puzzles"}, {"riddle", "riddles"}, {"recipe", "recipes"}, {"poem", "poems"},
      {"teapot", "teapots"}, {"shawl", "shawls"}, {"trumpet", "trumpets"}, {"harp", "harps"},
      {"acorn", "acorns"}, {"oar", "oars"}, {"ink", "inks"}, {"umbrella stand", "umbrella stands"},
  };
  return k;
}

const std::vector<std::string>& adjectives() {
  static const std::vector<std::string> k = {
      "old", "quiet", "bright", "small", "heavy", "gentle", "narrow", "ancient", "golden", "silver", "broken",
      "careful", "patient", "curious", "distant", "warm", "cold", "empty", "crowded", "hidden", "wooden", "muddy",
      "dusty", "tall", "crooked", "humble", "clever", "weary", "cheerful", "stubborn", "restless", "silent",
      "fragile", "sturdy", "pale", "dark", "rusty", "shiny", "lonely", "busy", "tiny", "enormous", "elegant",
      "faded", "fresh", "green", "blue", "red", "yellow", "purple", "brown", "gray", "round", "soft", "rough",
      "smooth", "sharp", "simple", "strange", "famous", "modest", "noisy", "peaceful", "proud", "polite", "brave",
      "shy", "kind", "wise", "young", "lazy", "eager", "gloomy", "sunny", "windy", "frozen", "velvet", "marble",
      "copper", "iron", "paper", "leather", "woolen", "striped", "spotted", "sleepy", "hungry", "thirsty",
      "grateful", "nervous", "ordinary", "odd", "elderly", "awkward", "idle", "early", "icy", "amber", "orange",
      "olive", "ivory", "tidy", "cozy", "bitter", "sweet", "salty", "fierce", "loyal", "clumsy", "nimble",
  };
  return k;
}

const std::vector<Verb>& transitive_verbs() {
  static const std::vector<Verb> k = {
      {"carry", "carried"}, {"build", "built"}, {"repair", "repaired"}, {"paint", "painted"}, {"find", "found"},
      {"lose", "lost"}, {"sell", "sold"}, {"buy", "bought"}, {"bring", "brought"}, {"open", "opened"},
      {"close", "closed"}, {"watch", "watched"}, {"follow", "followed"}, {"clean", "cleaned"},
      {"describe", "described"}, {"borrow", "borrowed"}, {"polish", "polished"}, {"hide", "hid"},
      {"measure", "measured"}, {"gather", "gathered"}, {"deliver", "delivered"}, {"examine", "examined"},
      {"admire", "admired"}, {"forget", "forgot"}, {"remember", "remembered"}, {"mend", "mended"},
      {"wrap", "wrapped"}, {"load", "loaded"}, {"pull", "pulled"}, {"push", "pushed"}, {"study", "studied"},
      {"draw", "drew"}, {"lift", "lifted"}, {"move", "moved"}, {"visit", "visited"}, {"sketch", "sketched"},
      {"weigh", "weighed"}, {"fold", "folded"}, {"share", "shared"}, {"trade", "traded"}, {"steal", "stole"},
      {"choose", "chose"}, {"keep", "kept"}, {"leave", "left"}, {"notice", "noticed"}, {"praise", "praised"},
      {"carve", "carved"}, {"sweep", "swept"}, {"wash", "washed"}, {"decorate", "decorated"},
      {"collect", "collected"}, {"arrange", "arranged"}, {"inspect", "inspected"}, {"shake", "shook"},
      {"throw", "threw"}, {"catch", "caught"}, {"drop", "dropped"}, {"climb", "climbed"}, {"cross", "crossed"},
      {"ignore", "ignored"}, {"explain", "explained"}, {"recognize", "recognized"}, {"guard", "guarded"},
      {"offer", "offered"}, {"plant", "planted"}, {"sew", "sewed"}, {"bake", "baked"}, {"tie", "tied"},
  };
  return k;
}

const std::vector<std::string>& intransitive_past() {
  static const std::vector<std::string> k = {
      "walked", "waited", "rested", "laughed", "wandered", "slept", "sang", "listened", "hurried", "lingered",
      "stayed", "worked", "danced", "whistled", "sighed", "paused", "smiled", "shouted", "arrived", "departed",
      "knelt", "stumbled", "hesitated", "marched", "strolled", "dreamed", "traveled", "waved", "nodded", "hummed",
  };
  return k;
}

const std::vector<std::string>& adverbs() {
  static const std::vector<std::string> k = {
      "slowly", "carefully", "quietly", "eagerly", "suddenly", "patiently", "happily", "reluctantly", "gently",
      "proudly", "nervously", "calmly", "boldly", "softly", "briskly", "silently", "cheerfully", "wearily",
      "politely", "anxiously", "quickly", "secretly", "gladly", "barely",
  };
  return k;
}

const std::vector<std::string>& places() {
  static const std::vector<std::string> k = {
      "the market", "the harbor", "the village square", "the old mill", "the library", "the orchard",
      "the hillside", "the riverbank", "the train station", "the bakery", "the workshop", "the forest",
      "the valley", "the castle", "the meadow", "the lighthouse", "the chapel", "the courtyard", "the cellar",
      "the kitchen", "the town hall", "the school", "the inn", "the farmhouse", "the barn", "the dock",
      "the pier", "the cliff", "the beach", "the lake", "the pond", "the stable", "the tavern", "the museum",
      "the theater", "the quarry", "the vineyard", "the greenhouse", "the attic", "the crossroads",
      "the bell tower", "the post office", "the ferry landing", "the rose garden", "the stone bridge",
  };
  return k;
}

const std::vector<std::string>& prepositions() {
  static const std::vector<std::string> k = {"to",     "from",   "near",   "behind", "beside",
                                             "inside", "outside", "toward", "past",   "around"};
  return k;
}

const std::vector<std::string>& times() {
  static const std::vector<std::string> k = {
      "in the morning", "at dawn", "at dusk", "after the storm", "before supper", "during the festival",
      "late in the evening", "on a rainy afternoon", "last winter", "every spring", "that night", "the next day",
      "long ago", "after breakfast", "before the harvest", "in early autumn", "on a quiet Sunday", "at midnight",
      "around noon", "after the long rain", "in the middle of summer", "on a windy day",
  };
  return k;
}

const std::vector<std::string>& openers() {
  static const std::vector<std::string> k = {"Meanwhile", "Later", "Afterwards", "Still", "Even so", "For a while",
                                             "By then",   "Soon",  "At last",    "In the end", "Of course", "Perhaps",
                                             "Without a word", "As usual"};
  return k;
}

const std::vector<std::string>& report_verbs() {
  static const std::vector<std::string> k = {"said", "claimed", "wrote", "believed", "insisted", "remembered",
                                             "explained", "told everyone", "whispered", "suspected"};
  return k;
}

const std::vector<std::string>& moods() {
  static const std::vector<std::string> k = {"strange", "pleasant", "odd", "sad", "wonderful", "rare", "curious",
                                             "surprising", "comforting", "unusual"};
  return k;
}

const std::vector<std::string>& events() {
  static const std::vector<std::string> k = {"the harvest", "the festival", "nightfall", "the first snow",
                                             "the storm", "the wedding", "the market closed", "the tide turned",
                                             "the guests arrived", "the bells rang"};
  return k;
}

const std::vector<Noun>& weathers() {
  static const std::vector<Noun> k = {{"fog", "drifted"}, {"rain", "fell"},        {"wind", "howled"},
                                      {"snow", "settled"}, {"mist", "lingered"},   {"sunlight", "spread"},
                                      {"thunder", "rolled"}, {"frost", "crept"},   {"breeze", "wandered"},
                                      {"smoke", "curled"}};
  return k;
}

const std::vector<std::string>& over_words() {
  static const std::vector<std::string> k = {"over", "across", "through", "along", "above"};
  return k;
}

// --- sentence building ---------------------------------------------------------------------------------------

bool starts_with_vowel(const std::string& word) {
  return !word.empty() && std::string("aeiou").find(word[0]) != std::string::npos;
}

std::string a_or_an(const std::string& word) { return (starts_with_vowel(word) ? "an " : "a ") + word; }

// A singular noun phrase: "the old farmer", "a curious fox", "his lantern".
std::string noun_phrase(SynthRng& rng, const std::vector<Noun>& nouns, bool possessive_ok) {
  std::string core = rng.pick(nouns).one;
  if (rng.chance(1, 2)) core = rng.pick(adjectives()) + " " + core;
  const std::uint64_t d = rng.below(possessive_ok ? 10 : 7);
  if (d < 4) return "the " + core;
  if (d < 7) return a_or_an(core);
  static const std::vector<std::string> kOwners = {"his", "her", "their"};
  return rng.pick(kOwners) + " " + core;
}

std::string subject(SynthRng& rng) { return noun_phrase(rng, people(), false); }
std::string object(SynthRng& rng) { return noun_phrase(rng, things(), true); }
std::string place_phrase(SynthRng& rng) { return rng.pick(prepositions()) + " " + rng.pick(places()); }
const char* past(SynthRng& rng) { return rng.pick(transitive_verbs()).past; }

std::string capitalized(std::string s) {
  if (!s.empty() && s[0] >= 'a' && s[0] <= 'z') s[0] = static_cast<char>(s[0] - 'a' + 'A');
  return s;
}

}  // namespace

std::string procedural_sentence(SynthRng& rng) {
  // Sixteen shapes with clauses, questions and exclamations, so the filler does not read as one repeated pattern.
  switch (rng.below(16)) {
    case 0:
      return capitalized(subject(rng) + " " + past(rng) + " " + object(rng) + " " + place_phrase(rng) + ".");
    case 1:
      return capitalized(rng.pick(times()) + ", " + subject(rng) + " " + past(rng) + " " + object(rng) + ".");
    case 2:
      return capitalized(subject(rng) + " " + rng.pick(intransitive_past()) + " " + rng.pick(adverbs()) + " " +
                         place_phrase(rng) + ".");
    case 3:
      return rng.pick(openers()) + ", " + subject(rng) + " " + past(rng) + " " + object(rng) + " and " + past(rng) +
             " " + object(rng) + ".";
    case 4:
      return capitalized(subject(rng) + " " + rng.pick(report_verbs()) + " that " + subject(rng) + " " + past(rng) +
                         " " + object(rng) + " " + rng.pick(times()) + ".");
    case 5:
      return "There was " + a_or_an(rng.pick(adjectives()) + " " + rng.pick(things()).one) + " " +
             place_phrase(rng) + ".";
    case 6:
      return "When " + subject(rng) + " " + past(rng) + " " + object(rng) + ", " + subject(rng) + " " +
             rng.pick(intransitive_past()) + " " + rng.pick(adverbs()) + ".";
    case 7:
      return capitalized(subject(rng) + " seemed " + rng.pick(adjectives()) + " and " + rng.pick(adjectives()) + " " +
                         rng.pick(times()) + ".");
    case 8:
      return "Nobody knew why " + subject(rng) + " " + past(rng) + " " + object(rng) + " " + place_phrase(rng) + ".";
    case 9:
      return capitalized(std::string(rng.pick(people()).many) + " often " + rng.pick(transitive_verbs()).base + " " +
                         rng.pick(things()).many + " " + place_phrase(rng) + ".");
    case 10: {
      const Noun& w = rng.pick(weathers());
      return "The " + std::string(w.one) + " " + w.many + " " + rng.pick(over_words()) + " " + rng.pick(places()) +
             ", and " + subject(rng) + " " + rng.pick(intransitive_past()) + " " + rng.pick(adverbs()) + ".";
    }
    case 11:
      return "It was " + rng.pick(moods()) + " to see " + object(rng) + " " + place_phrase(rng) + " " +
             rng.pick(times()) + ".";
    case 12:
      return "Who " + std::string(past(rng)) + " " + object(rng) + " " + place_phrase(rng) + "?";
    case 13:
      return capitalized(subject(rng) + " hoped to " + rng.pick(transitive_verbs()).base + " " + object(rng) +
                         " before " + rng.pick(events()) + ".");
    case 14:
      return "What " + a_or_an(rng.pick(adjectives()) + " " + rng.pick(things()).one) + " that was!";
    default:
      return capitalized(subject(rng) + " " + past(rng) + " " + object(rng) + ", then " +
                         rng.pick(intransitive_past()) + " " + rng.pick(adverbs()) + " " + place_phrase(rng) + ".");
  }
}

const std::string& noise_sentence(std::size_t i) {
  static const std::vector<std::string> kNoise = {"The river is wide.", "The hills are quiet.", "The wind is soft.",
                                                  "On and on we go.", "Back and forth, again and again."};
  return kNoise[i % kNoise.size()];
}

const std::vector<std::string>& key_adjectives() { return adjectives(); }

const std::vector<std::string>& key_nouns() {
  static const std::vector<std::string> k = [] {
    std::vector<std::string> out;
    for (const Noun& n : things())
      if (std::string(n.one).find(' ') == std::string::npos) out.push_back(n.one);
    return out;
  }();
  return k;
}

const std::vector<std::string>& word_pool() {
  static const std::vector<std::string> k = [] {
    std::set<std::string> words;
    auto add = [&](const std::string& w) {
      if (w.find(' ') == std::string::npos) words.insert(w);
    };
    for (const Noun& n : people()) add(n.one);
    for (const Noun& n : things()) add(n.one);
    for (const auto& a : adjectives()) add(a);
    for (const Verb& v : transitive_verbs()) add(v.base);
    for (const auto& a : adverbs()) add(a);
    return std::vector<std::string>(words.begin(), words.end());
  }();
  return k;
}

// --- haystacks -------------------------------------------------------------------------------------------------

std::vector<HaystackSentence> Haystack::sentences(std::uint64_t seed, std::size_t n) const {
  std::vector<HaystackSentence> out;
  out.reserve(n);
  SynthRng rng(seed);
  if (!procedural()) {
    // A file haystack starts at a seeded place, so samples differ, and cycles through the files.
    const std::size_t start = static_cast<std::size_t>(rng.below(file_sentences_.size()));
    for (std::size_t i = 0; i < n; ++i) out.push_back(file_sentences_[(start + i) % file_sentences_.size()]);
    return out;
  }
  std::int64_t left_in_paragraph = rng.between(3, 7);
  for (std::size_t i = 0; i < n; ++i) {
    HaystackSentence s{procedural_sentence(rng), false};
    if (--left_in_paragraph == 0) {
      s.paragraph_end = true;
      left_in_paragraph = rng.between(3, 7);
    }
    out.push_back(std::move(s));
  }
  return out;
}

std::vector<HaystackSentence> Haystack::part(std::uint64_t seed, std::size_t part, std::size_t parts,
                                             std::size_t n) const {
  if (procedural()) return sentences(mix64(seed ^ mix64(part + 1)), n);
  const std::size_t count = file_sentences_.size();
  const std::size_t start = static_cast<std::size_t>(SynthRng(seed).below(count)) + part * (count / std::max<std::size_t>(parts, 1));
  std::vector<HaystackSentence> out;
  out.reserve(n);
  for (std::size_t i = 0; i < n; ++i) out.push_back(file_sentences_[(start + i) % count]);
  return out;
}

namespace {

// Offset of the first byte that is not part of well-formed UTF-8, or npos.
std::size_t invalid_utf8_at(const std::string& s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t len = 0;
    std::uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return i;
    }
    if (i + len > s.size()) return i;
    for (std::size_t k = 1; k < len; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return i;
      cp = (cp << 6) | (cc & 0x3F);
    }
    // Overlong forms, surrogates and values past U+10FFFF are not UTF-8.
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
      return i;
    i += len;
  }
  return std::string::npos;
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; }

// Cuts a sentence longer than kMaxSentence at spaces (or, with none, at a UTF-8 boundary): one unit of the
// length fit must stay small next to 2% of the target.
constexpr std::size_t kMaxSentence = 300;

void push_sentence(std::vector<HaystackSentence>& out, std::string s) {
  while (s.size() > kMaxSentence) {
    std::size_t cut = s.rfind(' ', kMaxSentence);
    std::size_t next = cut + 1;
    if (cut == std::string::npos || cut == 0) {
      cut = kMaxSentence;
      while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;  // not inside a code point
      next = cut;
    }
    out.push_back({s.substr(0, cut), false});
    s.erase(0, next);
  }
  if (!s.empty()) out.push_back({std::move(s), false});
}

void split_paragraph(const std::string& paragraph, std::vector<HaystackSentence>& out) {
  const std::size_t before = out.size();
  std::size_t start = 0;
  for (std::size_t i = 0; i < paragraph.size(); ++i) {
    const char c = paragraph[i];
    if (c != '.' && c != '!' && c != '?') continue;
    std::size_t end = i + 1;
    while (end < paragraph.size() && std::string("\"')]").find(paragraph[end]) != std::string::npos) ++end;
    if (end < paragraph.size() && paragraph[end] != ' ') continue;
    push_sentence(out, paragraph.substr(start, end - start));
    start = end + 1;
    i = end;
  }
  if (start < paragraph.size()) push_sentence(out, paragraph.substr(start));
  if (out.size() > before) out.back().paragraph_end = true;
}

}  // namespace

std::vector<HaystackSentence> split_sentences(const std::string& text) {
  std::vector<HaystackSentence> out;
  std::string paragraph;
  auto flush = [&] {
    if (!paragraph.empty()) split_paragraph(paragraph, out);
    paragraph.clear();
  };
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    // Fold whitespace: a line's words join the paragraph with single spaces; a blank line ends it.
    std::string folded;
    for (char c : line) {
      if (is_space(c)) {
        if (!folded.empty() && folded.back() != ' ') folded.push_back(' ');
      } else {
        folded.push_back(c);
      }
    }
    if (!folded.empty() && folded.back() == ' ') folded.pop_back();
    if (folded.empty()) {
      flush();
    } else {
      paragraph += (paragraph.empty() ? "" : " ") + folded;
    }
  }
  flush();
  return out;
}

Haystack Haystack::from_directory(const std::string& dir) {
  check_directory(dir, "the haystack folder");
  DIR* d = ::opendir(dir.c_str());
  KV_CHECK(d != nullptr, "cannot read haystack folder '", dir, "'");
  std::vector<std::string> files;
  while (const dirent* entry = ::readdir(d)) {
    const std::string name = entry->d_name;
    if (name.size() > 4 && name.compare(name.size() - 4, 4, ".txt") == 0) files.push_back(name);
  }
  ::closedir(d);
  KV_CHECK(!files.empty(), "haystack folder '", dir, "' holds no .txt files");
  std::sort(files.begin(), files.end());
  Haystack h;
  for (const std::string& name : files) {
    const std::string path = paths::join(dir, name);
    std::string text = InputFile(path).read_all(std::uint64_t{256} << 20);  // a regular file (a FIFO is refused)
    if (text.compare(0, 3, "\xEF\xBB\xBF") == 0) text.erase(0, 3);  // a UTF-8 byte order mark is not text
    const std::size_t bad = invalid_utf8_at(text);
    KV_CHECK(bad == std::string::npos, "haystack file '", path, "' is not UTF-8 (bad byte at offset ", bad, ")");
    for (auto& sentence : split_sentences(text)) h.file_sentences_.push_back(std::move(sentence));
    // Each file ends a paragraph, so two files never run together.
    if (!h.file_sentences_.empty()) h.file_sentences_.back().paragraph_end = true;
  }
  KV_CHECK(!h.file_sentences_.empty(), "haystack folder '", dir, "': its .txt files hold no sentences");
  return h;
}

}  // namespace kvbench::synth
