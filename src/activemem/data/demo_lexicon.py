"""The demo corpus's English→French lexicon: nouns with gender, adjectives, determiners, verbs.

Data only (the grammar that uses it is ``demo.py``). French forms are the *underlying* ones: elision
(``le homme`` → ``l'homme``) and contraction (``à le`` → ``au``) are applied afterwards, once the
next word is known, by ``demo.finish_french``.

Several English nouns have French synonyms of different gender (``car`` → *voiture* f. / *véhicule*
m.; ``friend`` → *ami* m. / *amie* f.). The generator picks one at random per sentence, and the
choice changes the agreement of the article, the adjectives and past participles elsewhere in the
sentence: one English sentence, several valid references whose words depend on each other — the
conditional dependence between outputs that the paper says a parallel decoder cannot model.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Noun:
    fr: str
    gender: str  # "m" or "f"
    plural: str = ""  # French plural when not fr + "s"

    def form(self, number: str) -> str:
        return self.fr if number == "sg" else (self.plural or self.fr + "s")


@dataclass(frozen=True)
class EnglishNoun:
    sg: str
    pl: str
    french: tuple[Noun, ...]  # more than one: synonyms, chosen at random per sentence
    animate: bool = False     # can be a subject of every verb


def _n(sg, pl, *french, animate=False):
    return EnglishNoun(sg, pl, tuple(Noun(*f) for f in french), animate)


NOUNS: tuple[EnglishNoun, ...] = (
    # people and animals: subjects
    _n("man", "men", ("homme", "m"), animate=True),
    _n("woman", "women", ("femme", "f"), animate=True),
    _n("child", "children", ("enfant", "m"), animate=True),
    # English "friend" and "teacher" say nothing of the person's gender, French must: both nouns
    # are valid, and an être participle far to the right agrees with the one chosen.
    _n("friend", "friends", ("ami", "m"), ("amie", "f"), animate=True),
    _n("teacher", "teachers", ("professeur", "m"), ("professeure", "f"), animate=True),
    _n("girl", "girls", ("fille", "f"), animate=True),
    _n("dog", "dogs", ("chien", "m"), animate=True),
    _n("cat", "cats", ("chat", "m"), animate=True),
    _n("bird", "birds", ("oiseau", "m", "oiseaux"), animate=True),
    # things; the synonym pairs of different gender come first
    _n("car", "cars", ("voiture", "f"), ("véhicule", "m")),
    _n("bike", "bikes", ("vélo", "m"), ("bicyclette", "f")),
    _n("boat", "boats", ("bateau", "m", "bateaux"), ("barque", "f")),
    _n("road", "roads", ("route", "f"), ("chemin", "m")),
    _n("trip", "trips", ("voyage", "m"), ("excursion", "f")),
    _n("picture", "pictures", ("tableau", "m", "tableaux"), ("image", "f")),
    _n("story", "stories", ("histoire", "f"), ("récit", "m")),
    _n("shop", "shops", ("magasin", "m"), ("boutique", "f")),
    _n("chair", "chairs", ("chaise", "f"), ("siège", "m")),
    _n("song", "songs", ("chanson", "f"), ("chant", "m")),
    _n("book", "books", ("livre", "m")),
    _n("house", "houses", ("maison", "f")),
    _n("letter", "letters", ("lettre", "f")),
    _n("apple", "apples", ("pomme", "f")),
    _n("idea", "ideas", ("idée", "f")),
    _n("film", "films", ("film", "m")),
    _n("table", "tables", ("table", "f")),
    _n("door", "doors", ("porte", "f")),
    _n("window", "windows", ("fenêtre", "f")),
    _n("tree", "trees", ("arbre", "m")),
    _n("meal", "meals", ("repas", "m", "repas")),
)

PLACES: tuple[EnglishNoun, ...] = (
    _n("city", "cities", ("ville", "f")),
    _n("school", "schools", ("école", "f")),
    _n("hotel", "hotels", ("hôtel", "m")),
    _n("garden", "gardens", ("jardin", "m")),
    _n("station", "stations", ("gare", "f")),
    _n("market", "markets", ("marché", "m")),
    _n("beach", "beaches", ("plage", "f")),
    _n("museum", "museums", ("musée", "m")),
)


@dataclass(frozen=True)
class Adjective:
    en: str
    forms: tuple[str, str, str, str]  # m.sg, f.sg, m.pl, f.pl
    before: bool = False              # precedes the noun (most French adjectives follow it)
    before_vowel: str = ""            # m.sg form before a vowel (beau → bel, nouveau → nouvel)

    def form(self, gender: str, number: str) -> str:
        return self.forms[(gender == "f") + 2 * (number == "pl")]


ADJECTIVES: tuple[Adjective, ...] = (
    Adjective("red", ("rouge", "rouge", "rouges", "rouges")),
    Adjective("green", ("vert", "verte", "verts", "vertes")),
    Adjective("black", ("noir", "noire", "noirs", "noires")),
    Adjective("white", ("blanc", "blanche", "blancs", "blanches")),
    Adjective("blue", ("bleu", "bleue", "bleus", "bleues")),
    Adjective("expensive", ("cher", "chère", "chers", "chères")),
    Adjective("happy", ("heureux", "heureuse", "heureux", "heureuses")),
    Adjective("famous", ("célèbre", "célèbre", "célèbres", "célèbres")),
    Adjective("small", ("petit", "petite", "petits", "petites"), before=True),
    Adjective("big", ("grand", "grande", "grands", "grandes"), before=True),
    Adjective("new", ("nouveau", "nouvelle", "nouveaux", "nouvelles"), before=True, before_vowel="nouvel"),
    Adjective("beautiful", ("beau", "belle", "beaux", "belles"), before=True, before_vowel="bel"),
)

# English determiner → French forms (m.sg, f.sg, pl); "a" has the plural "some" (des).
DETERMINERS: dict[str, tuple[str, str, str]] = {
    "the": ("le", "la", "les"),
    "a": ("un", "une", "des"),
    "this": ("ce", "cette", "ces"),
    "my": ("mon", "ma", "mes"),
}
ENGLISH_PLURAL_DETERMINER = {"the": "the", "a": "some", "this": "these", "my": "my"}

# Subject pronouns: English, French, person index (0 je … 5 ils), number, gender.
PRONOUNS = (
    ("I", "je", 0, "sg", "m"),
    ("you", "vous", 4, "pl", "m"),
    ("he", "il", 2, "sg", "m"),
    ("she", "elle", 2, "sg", "f"),
    ("we", "nous", 3, "pl", "m"),
    ("they", "ils", 5, "pl", "m"),
)


@dataclass(frozen=True)
class Verb:
    en: tuple[str, str, str]    # base, 3rd person singular, past
    present: tuple[str, ...]    # je, tu (unused), il, nous, vous, ils
    participle: str
    etre: bool = False          # passé composé with être (participle agrees with the subject)


def participle_form(lemma: str, gender: str, number: str) -> str:
    """The agreeing past participle: ``allé`` → allée / allés / allées; ``pris`` is its own m.pl.

    The generator and the agreement checker (``activemem.evaluate.agreement``) both use this, so the
    checker's idea of agreement is the grammar's.
    """
    if number == "pl" and gender == "m" and lemma.endswith("s"):
        return lemma
    return lemma + ("e" if gender == "f" else "") + ("s" if number == "pl" else "")


TRANSITIVE: tuple[Verb, ...] = (
    Verb(("see", "sees", "saw"), ("vois", "vois", "voit", "voyons", "voyez", "voient"), "vu"),
    Verb(("buy", "buys", "bought"), ("achète", "achètes", "achète", "achetons", "achetez", "achètent"), "acheté"),
    Verb(("like", "likes", "liked"), ("aime", "aimes", "aime", "aimons", "aimez", "aiment"), "aimé"),
    Verb(("find", "finds", "found"), ("trouve", "trouves", "trouve", "trouvons", "trouvez", "trouvent"), "trouvé"),
    Verb(("sell", "sells", "sold"), ("vends", "vends", "vend", "vendons", "vendez", "vendent"), "vendu"),
    Verb(("take", "takes", "took"), ("prends", "prends", "prend", "prenons", "prenez", "prennent"), "pris"),
    Verb(("wash", "washes", "washed"), ("lave", "laves", "lave", "lavons", "lavez", "lavent"), "lavé"),
    Verb(("paint", "paints", "painted"), ("peins", "peins", "peint", "peignons", "peignez", "peignent"), "peint"),
)

MOTION: tuple[Verb, ...] = (  # "go to the station": passé composé with être
    Verb(("go", "goes", "went"), ("vais", "vas", "va", "allons", "allez", "vont"), "allé", etre=True),
    Verb(("come", "comes", "came"), ("viens", "viens", "vient", "venons", "venez", "viennent"), "venu", etre=True),
    Verb(("return", "returns", "returned"), ("retourne", "retournes", "retourne", "retournons", "retournez", "retournent"), "retourné", etre=True),
)

INTRANSITIVE: tuple[Verb, ...] = (
    Verb(("sleep", "sleeps", "slept"), ("dors", "dors", "dort", "dormons", "dormez", "dorment"), "dormi"),
    Verb(("work", "works", "worked"), ("travaille", "travailles", "travaille", "travaillons", "travaillez", "travaillent"), "travaillé"),
    Verb(("eat", "eats", "ate"), ("mange", "manges", "mange", "mangeons", "mangez", "mangent"), "mangé"),
)

AVOIR = ("ai", "as", "a", "avons", "avez", "ont")
ETRE = ("suis", "es", "est", "sommes", "êtes", "sont")

# Prepositions of place: English, French (before the determiner).
PREPOSITIONS = (("in", "dans"), ("near", "près de"), ("behind", "derrière"), ("with", "avec"))

VOWEL_START = tuple("aeiouyéèêâàîôh")  # every h-word in this lexicon has a mute h
