"""Generate dknbench's built-in fact set (``facts.jsonl``) deterministically.

Everything here was written for dknbench: the subject/object tables below are common knowledge and
the cloze templates are the project's own wording (nothing is copied from ParaRel, LAMA or any other
dataset). Each candidate fact gets 4 paraphrased queries; the object slot ``[Y]`` is always the last
thing in the query (optionally followed by a ".").

Usage::

    # rebuild facts.jsonl from the tables + the recorded model check (no model needed)
    python scripts/make_facts.py

    # re-score every candidate with a model (the embedded default, a folder or a Hub id) and
    # rewrite model_check.json + facts.jsonl
    python scripts/make_facts.py --filter-with-model smollm2-135m

The generator is a maintainer's script, not part of the package: the package ships only its
output (``dknbench/data/builtin/facts.jsonl`` and ``model_check.json``).

Scoring is the suite's own ``Prob`` (``dknbench.scoring.AnswerScorer``, mode ``first``): the text
before ``[Y]`` is the prompt, the answer's first token is tokenised in context, and its probability
and rank (1 = the model's argmax) are read from the softmax at the target position.

Filter rule (``KEEP_RULE``): a candidate is eligible when its gold first token is in the model's
top-3 for at least one of its queries; per relation, the 25 eligible candidates with the highest mean
gold probability are kept (ties broken by table order). This keeps the facts the model knows best and
balances the relations (no relation dominates the per-relation splits).
``model_check.json`` records the per-candidate scores, so the committed ``facts.jsonl`` is rebuilt
bit-for-bit without loading a model. Candidates never scored (no ``model_check.json``) are all kept.

``wrong_object`` is drawn after filtering with ``random.Random(42)`` from the other objects of the
same relation among the kept facts (never the gold object, never the subject; for
``next_in_sequence`` from the same sequence: a day for a day, a month for a month).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parents[1] / "dknbench" / "data" / "builtin"
FACTS_PATH = HERE / "facts.jsonl"
CHECK_PATH = HERE / "model_check.json"
SOURCE = "dknbench-builtin"
SEED = 42
TOP_K = 3
MAX_PER_RELATION = 25
KEEP_RULE = (
    f"a candidate is eligible if the gold answer's first token is in the model's top-{TOP_K} for at "
    f"least one of its queries; of the eligible candidates of each relation the {MAX_PER_RELATION} "
    "with the highest mean gold probability over the queries are kept (ties: table order)"
)

# --------------------------------------------------------------------------------------------
# Tables. Each relation: templates ({s} = subject, {S} = capitalised subject, {sa}/{SA} = subject
# with its indefinite article, {a} = "a"/"an" for the object) + (subject, object) pairs.
# Subjects are written as they read inside a sentence.
# --------------------------------------------------------------------------------------------

COUNTRY_CAPITALS = [
    ("France", "Paris"), ("Germany", "Berlin"), ("Italy", "Rome"), ("Spain", "Madrid"),
    ("Portugal", "Lisbon"), ("Japan", "Tokyo"), ("China", "Beijing"), ("India", "New Delhi"),
    ("Russia", "Moscow"), ("Egypt", "Cairo"), ("Greece", "Athens"), ("Turkey", "Ankara"),
    ("Canada", "Ottawa"), ("Australia", "Canberra"), ("Kenya", "Nairobi"), ("Ireland", "Dublin"),
    ("Norway", "Oslo"), ("Sweden", "Stockholm"), ("Finland", "Helsinki"),
    ("Denmark", "Copenhagen"), ("Poland", "Warsaw"), ("Austria", "Vienna"),
    ("Hungary", "Budapest"), ("the Netherlands", "Amsterdam"), ("Belgium", "Brussels"),
    ("Switzerland", "Bern"), ("the Czech Republic", "Prague"), ("Thailand", "Bangkok"),
    ("Vietnam", "Hanoi"), ("Indonesia", "Jakarta"), ("the Philippines", "Manila"),
    ("Iran", "Tehran"), ("Iraq", "Baghdad"), ("Peru", "Lima"), ("Chile", "Santiago"),
    ("Cuba", "Havana"), ("Venezuela", "Caracas"), ("Saudi Arabia", "Riyadh"),
    ("Pakistan", "Islamabad"), ("Afghanistan", "Kabul"), ("Morocco", "Rabat"),
    ("Romania", "Bucharest"), ("Bulgaria", "Sofia"), ("Serbia", "Belgrade"),
    ("Croatia", "Zagreb"), ("Scotland", "Edinburgh"), ("Wales", "Cardiff"),
    ("England", "London"), ("Iceland", "Reykjavik"), ("South Korea", "Seoul"),
    ("North Korea", "Pyongyang"), ("Syria", "Damascus"), ("Lebanon", "Beirut"),
    ("Jordan", "Amman"), ("Qatar", "Doha"), ("Nepal", "Kathmandu"), ("Bangladesh", "Dhaka"),
    ("Malaysia", "Kuala Lumpur"), ("Ghana", "Accra"), ("Senegal", "Dakar"),
    ("Uganda", "Kampala"), ("Zimbabwe", "Harare"), ("Algeria", "Algiers"), ("Tunisia", "Tunis"),
    ("Libya", "Tripoli"), ("Sudan", "Khartoum"), ("Mongolia", "Ulaanbaatar"),
    ("New Zealand", "Wellington"), ("Jamaica", "Kingston"), ("Estonia", "Tallinn"),
    ("Latvia", "Riga"), ("Lithuania", "Vilnius"), ("Georgia", "Tbilisi"),
    ("Armenia", "Yerevan"), ("Uruguay", "Montevideo"), ("Ecuador", "Quito"),
    ("Argentina", "Buenos Aires"), ("Colombia", "Bogota"), ("Mexico", "Mexico City"),
    ("Nigeria", "Abuja"), ("Ethiopia", "Addis Ababa"), ("Ukraine", "Kyiv"),
    ("Slovakia", "Bratislava"), ("Slovenia", "Ljubljana"), ("Albania", "Tirana"),
    ("Cyprus", "Nicosia"), ("Sri Lanka", "Colombo"), ("Cambodia", "Phnom Penh"),
    ("Laos", "Vientiane"), ("Kazakhstan", "Astana"), ("Brazil", "Brasilia"),
]


def _strip_the(name: str) -> str:
    return name[4:] if name.startswith("the ") else name


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


RELATIONS: dict[str, dict] = {}

RELATIONS["capital_of"] = {
    "description": "the capital city of a country",
    "templates": [
        "The capital of {s} is [Y].",
        "{S}'s capital city is [Y].",
        "The capital city of {s} is called [Y].",
        "The seat of the national government of {s} is the city of [Y].",
    ],
    "pairs": COUNTRY_CAPITALS,
}

RELATIONS["country_of_capital"] = {
    "description": "the country whose capital a city is",
    "templates": [
        "{S} is the capital of [Y].",
        "{S} is the capital city of the country [Y].",
        "The country whose capital is {s} is [Y].",
        "{S} serves as the national capital of [Y].",
    ],
    "pairs": [(cap, _strip_the(country)) for country, cap in COUNTRY_CAPITALS],
}

RELATIONS["official_language"] = {
    "description": "the main official language of a country",
    "templates": [
        "The official language of {s} is [Y].",
        "Most people in {s} speak [Y].",
        "In {s}, the national language is [Y].",
        "The language spoken in {s} is [Y].",
    ],
    "pairs": [
        ("France", "French"), ("Germany", "German"), ("Italy", "Italian"), ("Spain", "Spanish"),
        ("Portugal", "Portuguese"), ("Brazil", "Portuguese"), ("Mexico", "Spanish"),
        ("Argentina", "Spanish"), ("Japan", "Japanese"), ("China", "Chinese"),
        ("Russia", "Russian"), ("Greece", "Greek"), ("Turkey", "Turkish"), ("Poland", "Polish"),
        ("the Netherlands", "Dutch"), ("Sweden", "Swedish"), ("Norway", "Norwegian"),
        ("Denmark", "Danish"), ("Finland", "Finnish"), ("Hungary", "Hungarian"),
        ("Iran", "Persian"), ("Egypt", "Arabic"), ("Saudi Arabia", "Arabic"),
        ("Israel", "Hebrew"), ("South Korea", "Korean"), ("Vietnam", "Vietnamese"),
        ("Thailand", "Thai"), ("Indonesia", "Indonesian"), ("England", "English"),
        ("Australia", "English"), ("the Czech Republic", "Czech"), ("Romania", "Romanian"),
        ("Ukraine", "Ukrainian"), ("Iceland", "Icelandic"), ("Pakistan", "Urdu"),
        ("Bangladesh", "Bengali"), ("Colombia", "Spanish"), ("Peru", "Spanish"),
        ("Chile", "Spanish"), ("Cuba", "Spanish"), ("Austria", "German"), ("Morocco", "Arabic"),
        ("Iraq", "Arabic"), ("Bulgaria", "Bulgarian"), ("Serbia", "Serbian"),
        ("Croatia", "Croatian"), ("the United States", "English"), ("Canada", "English"),
        ("New Zealand", "English"), ("Venezuela", "Spanish"), ("Syria", "Arabic"),
        ("Malaysia", "Malay"), ("Albania", "Albanian"), ("Georgia", "Georgian"),
        ("Armenia", "Armenian"), ("Estonia", "Estonian"), ("Latvia", "Latvian"),
        ("Lithuania", "Lithuanian"), ("Slovakia", "Slovak"), ("Mongolia", "Mongolian"),
    ],
}

RELATIONS["currency"] = {
    "description": "the currency used in a country",
    "templates": [
        "The currency of {s} is the [Y].",
        "{S}'s official currency is the [Y].",
        "In {s}, people pay for things with the [Y].",
        "The money used in {s} is called the [Y].",
    ],
    "pairs": [
        ("Japan", "yen"), ("China", "yuan"), ("India", "rupee"), ("Russia", "ruble"),
        ("the United Kingdom", "pound"), ("the United States", "dollar"), ("Canada", "dollar"),
        ("Australia", "dollar"), ("Mexico", "peso"), ("Argentina", "peso"), ("Brazil", "real"),
        ("South Africa", "rand"), ("Switzerland", "franc"), ("Sweden", "krona"),
        ("Norway", "krone"), ("Denmark", "krone"), ("Turkey", "lira"), ("Poland", "zloty"),
        ("South Korea", "won"), ("Israel", "shekel"), ("Thailand", "baht"), ("Vietnam", "dong"),
        ("Indonesia", "rupiah"), ("Pakistan", "rupee"), ("Egypt", "pound"), ("Germany", "euro"),
        ("France", "euro"), ("Italy", "euro"), ("Spain", "euro"), ("Greece", "euro"),
        ("Ireland", "euro"), ("Portugal", "euro"), ("the Netherlands", "euro"),
        ("Austria", "euro"), ("Finland", "euro"), ("Belgium", "euro"),
        ("Saudi Arabia", "riyal"), ("Hungary", "forint"), ("the Philippines", "peso"),
        ("Nigeria", "naira"), ("Chile", "peso"), ("Colombia", "peso"), ("Malaysia", "ringgit"),
        ("New Zealand", "dollar"), ("Singapore", "dollar"), ("Kenya", "shilling"),
        ("Iran", "rial"), ("Cuba", "peso"), ("Jamaica", "dollar"), ("Iceland", "krona"),
    ],
}

RELATIONS["continent"] = {
    "description": "the continent a country lies on",
    "templates": [
        "{S} is a country in [Y].",
        "{S} is located on the continent of [Y].",
        "The continent where {s} lies is [Y].",
        "{S} is part of the continent of [Y].",
    ],
    "pairs": [
        ("France", "Europe"), ("Germany", "Europe"), ("Italy", "Europe"), ("Spain", "Europe"),
        ("Portugal", "Europe"), ("Poland", "Europe"), ("Sweden", "Europe"), ("Norway", "Europe"),
        ("Greece", "Europe"), ("Austria", "Europe"), ("Hungary", "Europe"),
        ("Belgium", "Europe"), ("Ireland", "Europe"), ("Denmark", "Europe"),
        ("Finland", "Europe"), ("Romania", "Europe"), ("Switzerland", "Europe"),
        ("Japan", "Asia"), ("China", "Asia"), ("India", "Asia"), ("Thailand", "Asia"),
        ("Vietnam", "Asia"), ("Pakistan", "Asia"), ("Nepal", "Asia"), ("Mongolia", "Asia"),
        ("South Korea", "Asia"), ("Malaysia", "Asia"), ("Bangladesh", "Asia"),
        ("Cambodia", "Asia"), ("Indonesia", "Asia"), ("Afghanistan", "Asia"),
        ("Egypt", "Africa"), ("Kenya", "Africa"), ("Nigeria", "Africa"), ("Ghana", "Africa"),
        ("Ethiopia", "Africa"), ("Morocco", "Africa"), ("Algeria", "Africa"),
        ("Uganda", "Africa"), ("Senegal", "Africa"), ("Zimbabwe", "Africa"),
        ("Tanzania", "Africa"), ("Sudan", "Africa"), ("Somalia", "Africa"), ("Mali", "Africa"),
        ("Brazil", "South America"), ("Argentina", "South America"), ("Peru", "South America"),
        ("Chile", "South America"), ("Colombia", "South America"),
        ("Venezuela", "South America"), ("Bolivia", "South America"),
        ("Uruguay", "South America"), ("Canada", "North America"),
        ("Mexico", "North America"), ("Australia", "Oceania"),
    ],
}

RELATIONS["citizenship"] = {
    "description": "the country a famous person came from",
    "templates": [
        "{S} was born in the country of [Y].",
        "{S} was a citizen of [Y].",
        "The home country of {s} was [Y].",
        "{S} originally came from [Y].",
    ],
    "pairs": [
        ("Albert Einstein", "Germany"), ("Isaac Newton", "England"),
        ("Charles Darwin", "England"), ("William Shakespeare", "England"),
        ("Leonardo da Vinci", "Italy"), ("Michelangelo", "Italy"), ("Galileo Galilei", "Italy"),
        ("Napoleon Bonaparte", "France"), ("Pablo Picasso", "Spain"),
        ("Vincent van Gogh", "the Netherlands"), ("Wolfgang Amadeus Mozart", "Austria"),
        ("Ludwig van Beethoven", "Germany"), ("Johann Sebastian Bach", "Germany"),
        ("Frederic Chopin", "Poland"), ("Leo Tolstoy", "Russia"), ("Fyodor Dostoevsky", "Russia"),
        ("Mahatma Gandhi", "India"), ("Confucius", "China"), ("Mao Zedong", "China"),
        ("Nelson Mandela", "South Africa"), ("Abraham Lincoln", "America"),
        ("George Washington", "America"), ("Sigmund Freud", "Austria"),
        ("Karl Marx", "Germany"), ("Friedrich Nietzsche", "Germany"), ("Victor Hugo", "France"),
        ("Claude Monet", "France"), ("Dante Alighieri", "Italy"), ("Winston Churchill", "England"),
        ("Socrates", "Greece"), ("Plato", "Greece"), ("Aristotle", "Greece"),
        ("Cleopatra", "Egypt"), ("Pele", "Brazil"), ("Lionel Messi", "Argentina"),
        ("Cristiano Ronaldo", "Portugal"), ("Akira Kurosawa", "Japan"),
        ("Hayao Miyazaki", "Japan"), ("Rabindranath Tagore", "India"),
        ("Gabriel Garcia Marquez", "Colombia"), ("Frida Kahlo", "Mexico"),
        ("Hans Christian Andersen", "Denmark"), ("Henrik Ibsen", "Norway"),
        ("Alfred Nobel", "Sweden"), ("Jean Sibelius", "Finland"), ("Antonio Vivaldi", "Italy"),
        ("Giuseppe Verdi", "Italy"), ("Miguel de Cervantes", "Spain"), ("Salvador Dali", "Spain"),
        ("Rembrandt", "the Netherlands"), ("Pyotr Tchaikovsky", "Russia"),
        ("Vladimir Lenin", "Russia"), ("Jules Verne", "France"), ("Charles Dickens", "England"),
        ("Jane Austen", "England"), ("Mark Twain", "America"), ("Ernest Hemingway", "America"),
        ("Immanuel Kant", "Germany"), ("Bruce Lee", "China"), ("Genghis Khan", "Mongolia"),
    ],
}

RELATIONS["profession"] = {
    "description": "what a famous person is known for doing",
    "templates": [
        "{S} is famous as {a} [Y].",
        "{S} is best known as {a} [Y].",
        "By profession, {s} was {a} [Y].",
        "{S} earned a living as {a} [Y].",
    ],
    "pairs": [
        ("Albert Einstein", "physicist"), ("Isaac Newton", "physicist"),
        ("Niels Bohr", "physicist"), ("Stephen Hawking", "physicist"),
        ("Pablo Picasso", "painter"), ("Vincent van Gogh", "painter"),
        ("Claude Monet", "painter"), ("Rembrandt", "painter"), ("Frida Kahlo", "painter"),
        ("Wolfgang Amadeus Mozart", "composer"), ("Ludwig van Beethoven", "composer"),
        ("Johann Sebastian Bach", "composer"), ("Frederic Chopin", "composer"),
        ("Pyotr Tchaikovsky", "composer"), ("Antonio Vivaldi", "composer"),
        ("Leo Tolstoy", "novelist"), ("Charles Dickens", "novelist"), ("Jane Austen", "novelist"),
        ("Ernest Hemingway", "writer"), ("Mark Twain", "writer"),
        ("Plato", "philosopher"), ("Aristotle", "philosopher"), ("Socrates", "philosopher"),
        ("Immanuel Kant", "philosopher"), ("Friedrich Nietzsche", "philosopher"),
        ("Tom Hanks", "actor"), ("Brad Pitt", "actor"), ("Leonardo DiCaprio", "actor"),
        ("Meryl Streep", "actress"), ("Marilyn Monroe", "actress"),
        ("Elvis Presley", "singer"), ("Michael Jackson", "singer"), ("Taylor Swift", "singer"),
        ("Frank Sinatra", "singer"), ("Neil Armstrong", "astronaut"),
        ("Buzz Aldrin", "astronaut"), ("Thomas Edison", "inventor"),
        ("Alexander Graham Bell", "inventor"), ("Euclid", "mathematician"),
        ("Pythagoras", "mathematician"), ("Carl Friedrich Gauss", "mathematician"),
        ("Auguste Rodin", "sculptor"), ("Christopher Columbus", "explorer"),
        ("Marco Polo", "explorer"), ("Ferdinand Magellan", "explorer"),
        ("Emily Dickinson", "poet"), ("Walt Whitman", "poet"), ("Robert Frost", "poet"),
        ("John Keats", "poet"), ("Charles Darwin", "naturalist"), ("Marie Curie", "scientist"),
        ("Steven Spielberg", "director"), ("Alfred Hitchcock", "director"),
        ("Florence Nightingale", "nurse"), ("Sigmund Freud", "psychologist"),
        ("Louis Pasteur", "chemist"), ("Dmitri Mendeleev", "chemist"),
        ("William Shakespeare", "playwright"), ("Henrik Ibsen", "playwright"),
    ],
}

RELATIONS["instrument"] = {
    "description": "the instrument a famous musician plays",
    "templates": [
        "{S} is famous for playing the [Y].",
        "The instrument played by {s} is the [Y].",
        "{S} is a musician who plays the [Y].",
        "On stage, {s} usually plays the [Y].",
    ],
    "pairs": [
        ("Jimi Hendrix", "guitar"), ("Eric Clapton", "guitar"), ("B.B. King", "guitar"),
        ("Jimmy Page", "guitar"), ("Carlos Santana", "guitar"), ("Louis Armstrong", "trumpet"),
        ("Miles Davis", "trumpet"), ("Dizzy Gillespie", "trumpet"), ("Elton John", "piano"),
        ("Lang Lang", "piano"), ("Franz Liszt", "piano"), ("Ray Charles", "piano"),
        ("Yo-Yo Ma", "cello"), ("Itzhak Perlman", "violin"), ("Niccolo Paganini", "violin"),
        ("Joshua Bell", "violin"), ("John Coltrane", "saxophone"), ("Charlie Parker", "saxophone"),
        ("Kenny G", "saxophone"), ("Ringo Starr", "drums"), ("Keith Moon", "drums"),
        ("Neil Peart", "drums"), ("Benny Goodman", "clarinet"), ("Paul McCartney", "bass"),
        ("Bob Dylan", "harmonica"), ("Ravi Shankar", "sitar"),
    ],
}

RELATIONS["company_country"] = {
    "description": "the country a well-known company comes from",
    "templates": [
        "{S} is a company based in [Y].",
        "{S} was founded in the country of [Y].",
        "The headquarters of {s} are in [Y].",
        "{S} is a famous company from [Y].",
    ],
    "pairs": [
        ("Toyota", "Japan"), ("Honda", "Japan"), ("Sony", "Japan"), ("Nintendo", "Japan"),
        ("Panasonic", "Japan"), ("Nissan", "Japan"), ("Mitsubishi", "Japan"),
        ("Samsung", "Korea"), ("Hyundai", "Korea"), ("Nokia", "Finland"), ("IKEA", "Sweden"),
        ("Volvo", "Sweden"), ("Ericsson", "Sweden"), ("BMW", "Germany"),
        ("Volkswagen", "Germany"), ("Siemens", "Germany"), ("Adidas", "Germany"),
        ("Mercedes-Benz", "Germany"), ("Porsche", "Germany"), ("Ferrari", "Italy"),
        ("Fiat", "Italy"), ("Lamborghini", "Italy"), ("Renault", "France"),
        ("Peugeot", "France"), ("Michelin", "France"), ("Nestle", "Switzerland"),
        ("Rolex", "Switzerland"), ("Philips", "the Netherlands"), ("Heineken", "the Netherlands"),
        ("Lego", "Denmark"), ("Huawei", "China"), ("Alibaba", "China"), ("Lenovo", "China"),
        ("Tata", "India"), ("Infosys", "India"), ("Gazprom", "Russia"),
        ("Petrobras", "Brazil"), ("Skoda", "the Czech Republic"), ("Guinness", "Ireland"),
    ],
}

RELATIONS["athlete_sport"] = {
    "description": "the sport a famous athlete is known for",
    "templates": [
        "{S} is a famous player of [Y].",
        "The sport {s} is known for is [Y].",
        "{S} became a star in the sport of [Y].",
        "{S} is a professional athlete who plays [Y].",
    ],
    "pairs": [
        ("Lionel Messi", "football"), ("Cristiano Ronaldo", "football"), ("Pele", "football"),
        ("Diego Maradona", "football"), ("Zinedine Zidane", "football"),
        ("Roger Federer", "tennis"), ("Serena Williams", "tennis"), ("Rafael Nadal", "tennis"),
        ("Novak Djokovic", "tennis"), ("Andy Murray", "tennis"), ("Tiger Woods", "golf"),
        ("Jack Nicklaus", "golf"), ("Michael Jordan", "basketball"),
        ("LeBron James", "basketball"), ("Kobe Bryant", "basketball"),
        ("Stephen Curry", "basketball"), ("Shaquille O'Neal", "basketball"),
        ("Babe Ruth", "baseball"), ("Derek Jeter", "baseball"), ("Wayne Gretzky", "hockey"),
        ("Sachin Tendulkar", "cricket"), ("Don Bradman", "cricket"), ("Virat Kohli", "cricket"),
        ("Mike Tyson", "boxing"), ("Muhammad Ali", "boxing"), ("Michael Phelps", "swimming"),
        ("Lewis Hamilton", "racing"), ("Tom Brady", "football"), ("Magnus Carlsen", "chess"),
        ("Garry Kasparov", "chess"), ("Bobby Fischer", "chess"), ("Usain Bolt", "sprinting"),
        ("Simone Biles", "gymnastics"), ("Tony Hawk", "skateboarding"),
    ],
}

RELATIONS["animal_young"] = {
    "description": "the name of a young animal",
    "templates": [
        "A baby {s} is called {a} [Y].",
        "The young of {sa} is known as {a} [Y].",
        "A young {s} is called {a} [Y].",
        "When {sa} is born, it is called {a} [Y].",
    ],
    "pairs": [
        ("cat", "kitten"), ("dog", "puppy"), ("cow", "calf"), ("horse", "foal"),
        ("sheep", "lamb"), ("goat", "kid"), ("pig", "piglet"), ("frog", "tadpole"),
        ("kangaroo", "joey"), ("swan", "cygnet"), ("goose", "gosling"), ("duck", "duckling"),
        ("lion", "cub"), ("bear", "cub"), ("deer", "fawn"), ("owl", "owlet"),
        ("eagle", "eaglet"), ("chicken", "chick"), ("butterfly", "caterpillar"),
        ("whale", "calf"), ("elephant", "calf"), ("tiger", "cub"), ("fox", "cub"),
        ("wolf", "pup"), ("seal", "pup"), ("rabbit", "kit"), ("fish", "fry"),
        ("hen", "chick"), ("giraffe", "calf"), ("mosquito", "larva"),
    ],
}

RELATIONS["animal_sound"] = {
    "description": "the sound an animal makes",
    "templates": [
        "The sound {sa} makes is called {a} [Y].",
        "{SA} makes a sound known as {a} [Y].",
        "The typical noise of {sa} is {a} [Y].",
        "If you hear {sa}, the sound it makes is {a} [Y].",
    ],
    "pairs": [
        ("dog", "bark"), ("cat", "meow"), ("cow", "moo"), ("lion", "roar"), ("horse", "neigh"),
        ("pig", "oink"), ("sheep", "baa"), ("duck", "quack"), ("snake", "hiss"), ("bee", "buzz"),
        ("owl", "hoot"), ("wolf", "howl"), ("frog", "croak"), ("donkey", "bray"),
        ("mouse", "squeak"), ("elephant", "trumpet"), ("rooster", "crow"), ("tiger", "roar"),
        ("bird", "chirp"), ("crow", "caw"), ("turkey", "gobble"), ("goat", "bleat"),
        ("hyena", "laugh"), ("bear", "growl"), ("pigeon", "coo"), ("cricket", "chirp"),
    ],
}

RELATIONS["colour"] = {
    "description": "the typical colour of a thing",
    "templates": [
        "The colour of {s} is [Y].",
        "The usual color of {s} is [Y].",
        "If you look at {s}, the colour you see is [Y].",
        "Asked about the color of {s}, most people would say [Y].",
    ],
    "pairs": [
        ("the sky", "blue"), ("grass", "green"), ("bananas", "yellow"), ("snow", "white"),
        ("coal", "black"), ("blood", "red"), ("lemons", "yellow"), ("ripe tomatoes", "red"),
        ("milk", "white"), ("chocolate", "brown"), ("strawberries", "red"), ("cherries", "red"),
        ("fresh leaves", "green"), ("the ocean", "blue"), ("charcoal", "black"),
        ("carrots", "orange"), ("pumpkins", "orange"), ("limes", "green"),
        ("eggplants", "purple"), ("the sun", "yellow"), ("clouds", "white"), ("coffee", "brown"),
        ("ravens", "black"), ("flamingos", "pink"), ("salt", "white"), ("silver", "grey"),
        ("gold", "yellow"), ("a fire truck", "red"), ("a school bus", "yellow"),
        ("lavender", "purple"), ("an elephant", "grey"), ("a polar bear", "white"),
        ("a crow", "black"), ("the moon", "white"), ("tea", "brown"), ("broccoli", "green"),
    ],
}

RELATIONS["opposite"] = {
    "description": "the antonym of a word",
    "templates": [
        "The opposite of {s} is [Y].",
        "The antonym of the word {s} is [Y].",
        "{S} is the opposite of [Y].",
        "A word that means the opposite of {s} is [Y].",
    ],
    "pairs": [
        ("hot", "cold"), ("big", "small"), ("up", "down"), ("left", "right"),
        ("black", "white"), ("day", "night"), ("happy", "sad"), ("fast", "slow"),
        ("good", "bad"), ("open", "closed"), ("light", "dark"), ("high", "low"),
        ("rich", "poor"), ("hard", "soft"), ("wet", "dry"), ("early", "late"),
        ("full", "empty"), ("strong", "weak"), ("true", "false"), ("love", "hate"),
        ("win", "lose"), ("inside", "outside"), ("yes", "no"), ("north", "south"),
        ("east", "west"), ("top", "bottom"), ("front", "back"), ("alive", "dead"),
        ("long", "short"), ("thick", "thin"), ("heavy", "light"), ("young", "old"),
        ("push", "pull"), ("buy", "sell"), ("begin", "end"), ("always", "never"),
        ("friend", "enemy"), ("question", "answer"), ("war", "peace"), ("clean", "dirty"),
        ("cheap", "expensive"), ("easy", "difficult"), ("loud", "quiet"),
        ("sweet", "sour"), ("boy", "girl"), ("man", "woman"), ("king", "queen"),
    ],
}

_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December"]
_NUMBERS = ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
            "eleven", "twelve"]
_SEASONS = ["spring", "summer", "autumn", "winter"]

RELATIONS["next_in_sequence"] = {
    "description": (
        "the item that follows another in a well-known sequence (days, months, numbers, seasons)"
    ),
    "templates": [
        "After {s} comes [Y].",
        "{S} is followed by [Y].",
        "First comes {s}, and then comes [Y].",
        "The one that comes right after {s} is [Y].",
    ],
    "pairs": (
        [(d, _DAYS[(i + 1) % 7]) for i, d in enumerate(_DAYS)]
        + [(m, _MONTHS[(i + 1) % 12]) for i, m in enumerate(_MONTHS)]
        + [(n, _NUMBERS[i + 1]) for i, n in enumerate(_NUMBERS[:-1])]
        + [(s, _SEASONS[(i + 1) % 4]) for i, s in enumerate(_SEASONS)]
    ),
    # wrong objects are drawn from the same sequence (a day for a day, a month for a month)
    "groups": {
        **{d: "day" for d in _DAYS}, **{m: "month" for m in _MONTHS},
        **{n: "number" for n in _NUMBERS}, **{s: "season" for s in _SEASONS},
    },
    # sequence-specific extra wording, used instead of the 4th generic template
    "kind_templates": {
        **{d: "The day after {s} is [Y]." for d in _DAYS},
        **{m: "The month after {s} is [Y]." for m in _MONTHS},
        **{n: "The number after {s} is [Y]." for n in _NUMBERS},
        **{s: "The season after {s} is [Y]." for s in _SEASONS},
    },
}

RELATIONS["made_from"] = {
    "description": "the main ingredient or material something is made from",
    "templates": [
        "{S} is made from [Y].",
        "The main ingredient of {s} is [Y].",
        "To make {s}, you mainly need [Y].",
        "{S} is produced mostly from [Y].",
    ],
    "pairs": [
        ("bread", "flour"), ("wine", "grapes"), ("cheese", "milk"), ("paper", "wood"),
        ("glass", "sand"), ("butter", "cream"), ("chocolate", "cocoa"), ("ice", "water"),
        ("steel", "iron"), ("cider", "apples"), ("popcorn", "corn"), ("ketchup", "tomatoes"),
        ("guacamole", "avocado"), ("tofu", "soybeans"), ("yogurt", "milk"),
        ("an omelette", "eggs"), ("french fries", "potatoes"), ("wool", "sheep"),
        ("honey", "nectar"), ("beer", "barley"), ("sugar", "sugarcane"), ("rum", "sugarcane"),
        ("vodka", "potatoes"), ("jam", "fruit"), ("hummus", "chickpeas"), ("pasta", "wheat"),
        ("a candle", "wax"), ("a pencil lead", "graphite"), ("orange juice", "oranges"),
        ("applesauce", "apples"), ("peanut butter", "peanuts"), ("sushi", "rice"),
    ],
}

RELATIONS["animal_class"] = {
    "description": "the class of animals an animal belongs to",
    "templates": [
        "The {s} is a kind of [Y].",
        "Biologically, {sa} is classified as {a} [Y].",
        "In the animal kingdom, {sa} is {a} [Y].",
        "Zoologists classify the {s} as {a} [Y].",
    ],
    "pairs": [
        ("dolphin", "mammal"), ("whale", "mammal"), ("bat", "mammal"), ("dog", "mammal"),
        ("horse", "mammal"), ("elephant", "mammal"), ("shark", "fish"), ("salmon", "fish"),
        ("tuna", "fish"), ("goldfish", "fish"), ("trout", "fish"), ("eagle", "bird"),
        ("penguin", "bird"), ("ostrich", "bird"), ("parrot", "bird"), ("sparrow", "bird"),
        ("owl", "bird"), ("snake", "reptile"), ("crocodile", "reptile"), ("lizard", "reptile"),
        ("turtle", "reptile"), ("frog", "amphibian"), ("salamander", "amphibian"),
        ("toad", "amphibian"), ("ant", "insect"), ("bee", "insect"), ("butterfly", "insect"),
        ("beetle", "insect"), ("mosquito", "insect"), ("spider", "arachnid"),
        ("scorpion", "arachnid"),
    ],
}

RELATIONS["city_country"] = {
    "description": "the country a large (non-capital) city is in",
    "templates": [
        "{S} is a city in [Y].",
        "The city of {s} is located in [Y].",
        "{S} is one of the largest cities of [Y].",
        "You can visit {s} on a trip to [Y].",
    ],
    "pairs": [
        ("Sydney", "Australia"), ("Melbourne", "Australia"), ("Toronto", "Canada"),
        ("Vancouver", "Canada"), ("Montreal", "Canada"), ("Mumbai", "India"),
        ("Kolkata", "India"), ("Barcelona", "Spain"), ("Seville", "Spain"),
        ("Milan", "Italy"), ("Venice", "Italy"), ("Naples", "Italy"), ("Florence", "Italy"),
        ("Munich", "Germany"), ("Hamburg", "Germany"), ("Frankfurt", "Germany"),
        ("Istanbul", "Turkey"), ("Shanghai", "China"), ("Hong Kong", "China"),
        ("Osaka", "Japan"), ("Kyoto", "Japan"), ("Rio de Janeiro", "Brazil"),
        ("Sao Paulo", "Brazil"), ("Marseille", "France"), ("Lyon", "France"),
        ("Manchester", "England"), ("Liverpool", "England"), ("Glasgow", "Scotland"),
        ("St. Petersburg", "Russia"), ("Chicago", "America"), ("Los Angeles", "America"),
        ("Rotterdam", "the Netherlands"), ("Casablanca", "Morocco"), ("Alexandria", "Egypt"),
        ("Karachi", "Pakistan"), ("Johannesburg", "South Africa"), ("Auckland", "New Zealand"),
        ("Porto", "Portugal"), ("Krakow", "Poland"), ("Gothenburg", "Sweden"),
    ],
}


# --------------------------------------------------------------------------------------------
# Building
# --------------------------------------------------------------------------------------------


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def render(template: str, subject: str, obj: str) -> str:
    sa = f"{_article(subject)} {subject}"
    query = template.format(s=subject, S=_cap(subject), a=_article(obj), sa=sa, SA=_cap(sa))
    return query[:1].upper() + query[1:]


def candidate_facts() -> list[dict]:
    """All candidate facts (before the model filter), in a fixed order."""
    rows = []
    for relation, spec in RELATIONS.items():
        seen = set()
        for subject, obj in spec["pairs"]:
            templates = list(spec["templates"])
            extra = spec.get("kind_templates", {}).get(subject)
            if extra:
                templates[-1] = extra
            queries = []
            for t in templates:
                q = render(t, subject, obj)
                if q not in queries:
                    queries.append(q)
            fid = f"{relation}:{_slug(subject)}"
            if fid in seen:
                raise ValueError(f"duplicate candidate {fid}")
            seen.add(fid)
            rows.append(
                {
                    "id": fid,
                    "relation": relation,
                    "subject": subject,
                    "object": obj,
                    "queries": queries,
                    "date": "",
                    "language": "en",
                    "wrong_object": "",
                    "target_object": "",
                    "neighbour_queries": [],
                    "locality_queries": [],
                    "locality_objects": [],
                    "source": SOURCE,
                }
            )
    return rows


def eligible(score: dict) -> bool:
    return min(score["ranks"]) <= TOP_K


def select(rows: list[dict], scores: dict[str, dict]) -> list[dict]:
    """Apply KEEP_RULE; the kept facts stay in table order."""
    by_rel: dict[str, list[tuple[float, int]]] = {}
    for pos, row in enumerate(rows):
        if eligible(scores[row["id"]]):
            by_rel.setdefault(row["relation"], []).append((-scores[row["id"]]["mean_prob"], pos))
    chosen = set()
    for items in by_rel.values():
        chosen.update(pos for _, pos in sorted(items)[:MAX_PER_RELATION])
    return [row for pos, row in enumerate(rows) if pos in chosen]


def _group(row: dict) -> str:
    return RELATIONS.get(row["relation"], {}).get("groups", {}).get(row["subject"], "")


def assign_wrong_objects(rows: list[dict], seed: int = SEED) -> None:
    """wrong_object: another object of the same relation (and of the same group, where the
    relation defines groups and the group has one), never the gold object nor the subject itself,
    drawn with random.Random(seed)."""
    rng = random.Random(seed)
    objects: dict[tuple[str, str], set[str]] = {}
    for row in rows:
        objects.setdefault((row["relation"], ""), set()).add(row["object"])
        objects.setdefault((row["relation"], _group(row)), set()).add(row["object"])
    for row in rows:
        exclude = {row["object"], row["subject"]}
        choices = sorted(objects[(row["relation"], _group(row))] - exclude)
        if not choices:
            choices = sorted(objects[(row["relation"], "")] - exclude)
        if not choices:
            raise ValueError(f"relation {row['relation']} has a single object")
        row["wrong_object"] = rng.choice(choices)


# --------------------------------------------------------------------------------------------
# Model scoring (optional; needs torch + transformers)
# --------------------------------------------------------------------------------------------


def score_with_model(rows: list[dict], model: str, batch_size: int = 32) -> dict[str, dict]:
    """Prob and rank of each candidate's gold answer on each of its queries."""
    import torch

    from dknbench.models import load_model
    from dknbench.scoring import AnswerScorer

    torch.set_num_threads(1)
    scorer = AnswerScorer(load_model(model), mode="first", batch_size=batch_size)
    items = [(i, scorer.encode(q, row["object"])) for i, row in enumerate(rows) for q in row["queries"]]
    probs: list[float] = []
    ranks: list[int] = []
    with torch.no_grad():
        for start in range(0, len(items), batch_size):
            chunk = [encoded for _, encoded in items[start: start + batch_size]]
            ids, mask, targets = scorer.collate(chunk)
            logits = scorer.logits(ids, mask, targets)
            for row, encoded in enumerate(chunk):
                dist = torch.softmax(logits[row, encoded.target].float(), dim=-1)
                gold = dist[encoded.answer_ids[0]]
                probs.append(float(gold))
                ranks.append(int((dist > gold).sum()) + 1)
            print(f"scored {min(start + batch_size, len(items))}/{len(items)}", file=sys.stderr)

    scores: dict[str, dict] = {}
    for (i, _), p, r in zip(items, probs, ranks):
        s = scores.setdefault(rows[i]["id"], {"probs": [], "ranks": []})
        s["probs"].append(p)
        s["ranks"].append(r)
    for s in scores.values():
        s["mean_prob"] = round(sum(s["probs"]) / len(s["probs"]), 6)
        s["probs"] = [round(p, 5) for p in s["probs"]]
    return scores


# --------------------------------------------------------------------------------------------


def build(check: dict | None) -> tuple[list[dict], dict | None]:
    rows = candidate_facts()
    if check is not None:
        scores = check["scores"]
        missing = [r["id"] for r in rows if r["id"] not in scores]
        if missing:
            raise SystemExit(f"model_check.json lacks scores for {len(missing)} candidates, "
                             f"e.g. {missing[:3]}; rerun with --filter-with-model")
        rows = select(rows, scores)
    assign_wrong_objects(rows)
    return rows, check


def summarise(candidates: list[dict], kept: list[dict], scores: dict, model: str) -> dict:
    per_rel = {}
    kept_ids = {r["id"] for r in kept}
    for r in candidates:
        d = per_rel.setdefault(r["relation"], {"candidates": 0, "kept": 0, "_p": []})
        d["candidates"] += 1
        if r["id"] in kept_ids:
            d["kept"] += 1
            d["_p"].append(scores[r["id"]]["mean_prob"])
    for d in per_rel.values():
        p = d.pop("_p")
        d["mean_prob_kept"] = round(sum(p) / len(p), 4) if p else None
    kept_p = [scores[i]["mean_prob"] for i in kept_ids]
    all_p = [scores[r["id"]]["mean_prob"] for r in candidates]
    return {
        "model": model,
        "rule": KEEP_RULE,
        "top_k": TOP_K,
        "max_per_relation": MAX_PER_RELATION,
        "n_candidates": len(candidates),
        "n_kept": len(kept),
        "n_dropped": len(candidates) - len(kept),
        "mean_prob_candidates": round(sum(all_p) / len(all_p), 4),
        "mean_prob_kept": round(sum(kept_p) / len(kept_p), 4),
        "top1_rate_kept_queries": round(
            sum(r == 1 for i in kept_ids for r in scores[i]["ranks"])
            / sum(len(scores[i]["ranks"]) for i in kept_ids), 4),
        "per_relation": per_rel,
        "scores": scores,
    }


def write_check(check: dict, path: str) -> None:
    """Summary indented; the per-candidate scores one line each (keeps the file small)."""
    head = {k: v for k, v in check.items() if k != "scores"}
    text = json.dumps(head, indent=1)[:-2]
    lines = [f" {json.dumps(k)}: {json.dumps(v, separators=(',', ':'))}"
             for k, v in check["scores"].items()]
    with open(path, "w") as f:
        f.write(text + ',\n "scores": {\n' + ",\n".join(lines) + "\n }\n}\n")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--filter-with-model", metavar="MODEL",
                    help="score the candidates with this model (embedded name, folder or Hub id) "
                    "and rewrite model_check.json")
    ap.add_argument("--model-name", default=None, help="name recorded in model_check.json")
    ap.add_argument("--out", default=str(FACTS_PATH))
    ap.add_argument("--check", default=str(CHECK_PATH))
    args = ap.parse_args(argv)

    check = None
    if args.filter_with_model:
        candidates = candidate_facts()
        scores = score_with_model(candidates, args.filter_with_model)
        kept = select(candidates, scores)
        name = args.model_name or args.filter_with_model
        check = summarise(candidates, kept, scores, name)
        write_check(check, args.check)
    elif Path(args.check).exists():
        with open(args.check) as f:
            check = json.load(f)

    rows, _ = build(check)
    with open(args.out, "w") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    rels = {}
    for r in rows:
        rels[r["relation"]] = rels.get(r["relation"], 0) + 1
    print(f"wrote {len(rows)} facts in {len(rels)} relations to {args.out}")
    for k, v in rels.items():
        print(f"  {k}: {v}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
