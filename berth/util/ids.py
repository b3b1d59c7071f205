"""Container and exec ids (64 hex digits) and docker-style random names."""

from __future__ import annotations

import os
import random
import re

__all__ = ["NAME_RE", "generate_id", "random_name", "short_id"]

NAME_RE = re.compile(r"^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$")

_LEFT = (
    "admiring adoring affectionate agitated amazing angry awesome blissful bold boring brave busy "
    "charming clever cool compassionate competent condescending confident cranky crazy dazzling "
    "determined distracted dreamy eager ecstatic elastic elated elegant eloquent epic fervent "
    "festive flamboyant focused friendly frosty gallant gifted goofy gracious happy hardcore "
    "heuristic hopeful hungry infallible inspiring jolly jovial keen kind laughing loving lucid "
    "magical modest musing mystifying naughty nervous nice nifty nostalgic objective optimistic "
    "peaceful pedantic pensive practical priceless quirky quizzical relaxed reverent romantic sad "
    "serene sharp silly sleepy stoic strange stupefied suspicious sweet tender thirsty trusting "
    "unruffled upbeat vibrant vigilant vigorous wizardly wonderful xenodochial youthful zealous zen"
).split()
_RIGHT = (
    "albattani allen almeida agnesi archimedes ardinghelli aryabhata austin babbage banach bardeen "
    "bartik bassi beaver bell bhabha bhaskara blackwell bohr booth borg bose boyd brahmagupta "
    "brattain brown burnell cannon carson cartwright cerf chandrasekhar chaplygin chatelet chatterjee "
    "chebyshev clarke colden cori cray curie darwin davinci dewdney dhawan diffie dijkstra dirac "
    "driscoll dubinsky easley edison einstein elbakyan elgamal elion ellis engelbart euclid euler "
    "faraday feistel fermat fermi feynman franklin galileo gates goldberg goldstine goldwasser "
    "golick goodall gould greider grothendieck haibt hamilton hawking heisenberg hermann herschel "
    "hertz heyrovsky hodgkin hofstadter hoover hopper hugle hypatia jackson jang jennings jepsen "
    "johnson joliot jones kalam kapitsa kare keldysh keller kepler khorana kilby kirch knuth "
    "kowalevski lalande lamarr lamport leakey leavitt lederberg lehmann lewin lichterman liskov "
    "lovelace lumiere mahavira margulis matsumoto maxwell mayer mccarthy mcclintock mclean mcnulty "
    "meitner mendel mendeleev merkle mestorf mirzakhani morse moser murdock napier nash neumann "
    "newton nightingale nobel noether northcutt noyce panini pare pascal pasteur payne perlman pike "
    "poincare poitras proskuriakova ptolemy raman ramanujan ride ritchie robinson roentgen rosalind "
    "rubin saha sammet sanderson satoshi shamir shannon shaw shirley shockley sinoussi snyder "
    "solomon spence stonebraker sutherland swanson swartz swirles taussig tesla tharp thompson "
    "torvalds tu turing varahamihira vaughan visvesvaraya volhard villani wescoff wilbur wiles "
    "williams williamson wilson wing wozniak wright wu yalow yonath zhukovsky"
).split()


def generate_id() -> str:
    """A new 64-hex id that is not all digits (docker avoids those: they look like numbers)."""
    while True:
        value = os.urandom(32).hex()
        if not value.isdigit():
            return value


def short_id(full: str) -> str:
    """The 12-character short form docker prints."""
    return full.removeprefix("sha256:")[:12]


def random_name(rng: random.Random | None = None) -> str:
    """A docker-style adjective_scientist name."""
    r = rng or random.SystemRandom()
    return f"{r.choice(_LEFT)}_{r.choice(_RIGHT)}"
