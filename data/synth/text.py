"""Sentence texts for the synthetic voices: small built-in phrase lists and templates per language.

What it is
    ``sentences(language, rng, n)`` draws ``n`` varied, pronounceable sentences in one language
    from a template grammar (subject · verb · object · adverbial, plus questions, exclamations,
    greetings, numbers and lists). Subject/object phrases carry their own articles and agreement,
    and verbs are third-person singular, so every combination is grammatical enough for
    text-to-speech. The phrase lists are deliberately rich in bilabials (/p b m/), rounded vowels
    and open vowels so that the mouth visits all viseme classes. No external data: the lists
    below are written for this project (about 10 phrases per slot and language).

    ``language`` may be an espeak voice code ("en-us", "pt", ...) or a bare language ("en").
    Deterministic: the same rng state gives the same sentences.

Sources
    Template sentence generation in the spirit of the Harvard/IEEE phonetically balanced
    sentence lists (IEEE Recommended Practice for Speech Quality Measurements, 1969), without
    their text.
"""

from __future__ import annotations

import numpy as np

# slot lists per language: S subjects, V verbs (3rd sg), O objects, A adverbials,
# Q question templates with {S}/{O}, G greetings, C conjunction word, N "number" template
_LEX: dict[str, dict[str, list[str]]] = {
    "en": {
        "S": ["the old man", "my brother", "a small boy", "the baker", "our mother", "the pilot",
              "a happy woman", "the young painter", "my best friend", "the musician", "Paul", "Maria"],
        "V": ["bought", "paints", "moved", "brings", "saw", "opens", "will bake", "wanted", "keeps",
              "found", "remembers", "throws"],
        "O": ["a blue boat", "the map", "some bread", "a warm blanket", "the purple umbrella",
              "two apples", "the morning paper", "a basket of plums", "the broken lamp", "my book",
              "a beautiful picture", "the old piano"],
        "A": ["in the park", "before dinner", "by the sea", "every Monday", "at the market",
              "after the rain", "near the bridge", "on Sunday morning", "quite happily", "in Boston",
              "behind the museum", "very slowly"],
        "Q": ["Why did {S} take {O}?", "Where is {O}?", "Do you think {S} knows?",
              "Have you seen {O}?", "Who gave {S} {O}?"],
        "G": ["Good morning!", "Hello there.", "Thank you very much.", "Please come back soon.",
              "Oh, my goodness!", "Well, maybe tomorrow."],
        "C": ["and", "but", "because", "while"],
        "N": ["It costs {n} pounds.", "We waited {n} minutes.", "Room number {n}, please."],
        "X": ["What a beautiful day!", "Absolutely amazing!", "Look at that!"],
    },
    "de": {
        "S": ["der alte Mann", "mein Bruder", "ein kleiner Junge", "der Bäcker", "unsere Mutter",
              "die Pilotin", "eine fröhliche Frau", "der junge Maler", "mein bester Freund",
              "die Musikerin", "Peter", "Monika"],
        "V": ["kaufte", "malt", "bringt", "sah", "öffnet", "sucht", "wollte", "behält", "fand",
              "vergisst", "braucht", "zeigt"],
        "O": ["ein blaues Boot", "die Landkarte", "frisches Brot", "eine warme Decke",
              "den roten Schirm", "zwei Äpfel", "die Morgenzeitung", "einen Korb mit Pflaumen",
              "die kaputte Lampe", "mein Buch", "ein schönes Bild", "das alte Klavier"],
        "A": ["im Park", "vor dem Abendessen", "am Meer", "jeden Montag", "auf dem Markt",
              "nach dem Regen", "bei der Brücke", "am Sonntagmorgen", "sehr langsam", "in Berlin",
              "hinter dem Museum", "ganz bestimmt"],
        "Q": ["Warum nimmt {S} {O}?", "Wo ist {O}?", "Glaubst du, dass {S} es weiß?",
              "Hast du {O} gesehen?", "Wer hat {O} gebracht?"],
        "G": ["Guten Morgen!", "Hallo zusammen.", "Vielen Dank.", "Bis bald, mein Freund.",
              "Oh, mein Gott!", "Na gut, vielleicht morgen."],
        "C": ["und", "aber", "denn", "doch"],
        "N": ["Das kostet {n} Euro.", "Wir warteten {n} Minuten.", "Zimmer Nummer {n}, bitte."],
        "X": ["Was für ein schöner Tag!", "Wunderbar!", "Schau mal da!"],
    },
    "fr": {
        "S": ["le vieil homme", "mon frère", "un petit garçon", "le boulanger", "notre mère",
              "la pilote", "une femme heureuse", "le jeune peintre", "mon meilleur ami",
              "la musicienne", "Pierre", "Marie"],
        "V": ["achète", "peint", "apporte", "voit", "ouvre", "cherche", "voulait", "garde",
              "trouve", "oublie", "prend", "montre"],
        "O": ["un bateau bleu", "la carte", "du pain frais", "une couverture chaude",
              "le parapluie rouge", "deux pommes", "le journal du matin", "un panier de prunes",
              "la lampe cassée", "mon livre", "une belle image", "le vieux piano"],
        "A": ["dans le parc", "avant le dîner", "au bord de la mer", "tous les lundis",
              "au marché", "après la pluie", "près du pont", "le dimanche matin", "très lentement",
              "à Bordeaux", "derrière le musée", "bien sûr"],
        "Q": ["Pourquoi {S} prend {O} ?", "Où est {O} ?", "Tu crois que {S} le sait ?",
              "As-tu vu {O} ?", "Qui a apporté {O} ?"],
        "G": ["Bonjour !", "Salut tout le monde.", "Merci beaucoup.", "À bientôt, mon ami.",
              "Oh, mon Dieu !", "Bon, peut-être demain."],
        "C": ["et", "mais", "parce que", "puis"],
        "N": ["Cela coûte {n} euros.", "Nous avons attendu {n} minutes.", "Chambre numéro {n}, s'il vous plaît."],
        "X": ["Quelle belle journée !", "Magnifique !", "Regarde ça !"],
    },
    "es": {
        "S": ["el viejo", "mi hermano", "un niño pequeño", "el panadero", "nuestra madre",
              "la piloto", "una mujer feliz", "el joven pintor", "mi mejor amigo", "la música",
              "Pablo", "María"],
        "V": ["compró", "pinta", "trae", "vio", "abre", "busca", "quería", "guarda", "encontró",
              "olvida", "toma", "muestra"],
        "O": ["un barco azul", "el mapa", "pan fresco", "una manta caliente", "el paraguas rojo",
              "dos manzanas", "el periódico", "una cesta de ciruelas", "la lámpara rota",
              "mi libro", "una bonita pintura", "el viejo piano"],
        "A": ["en el parque", "antes de comer", "junto al mar", "cada lunes", "en el mercado",
              "después de la lluvia", "cerca del puente", "el domingo por la mañana", "muy despacio",
              "en Barcelona", "detrás del museo", "por supuesto"],
        "Q": ["¿Por qué {S} toma {O}?", "¿Dónde está {O}?", "¿Crees que {S} lo sabe?",
              "¿Has visto {O}?", "¿Quién trajo {O}?"],
        "G": ["¡Buenos días!", "Hola a todos.", "Muchas gracias.", "Hasta pronto, amigo.",
              "¡Madre mía!", "Bueno, quizás mañana."],
        "C": ["y", "pero", "porque", "mientras"],
        "N": ["Cuesta {n} euros.", "Esperamos {n} minutos.", "Habitación número {n}, por favor."],
        "X": ["¡Qué día tan bonito!", "¡Maravilloso!", "¡Mira eso!"],
    },
    "it": {
        "S": ["il vecchio", "mio fratello", "un bambino", "il panettiere", "nostra madre",
              "la pilota", "una donna felice", "il giovane pittore", "il mio migliore amico",
              "la musicista", "Paolo", "Maria"],
        "V": ["comprò", "dipinge", "porta", "vide", "apre", "cerca", "voleva", "tiene", "trovò",
              "dimentica", "prende", "mostra"],
        "O": ["una barca blu", "la mappa", "il pane fresco", "una coperta calda",
              "l'ombrello rosso", "due mele", "il giornale", "un cesto di prugne",
              "la lampada rotta", "il mio libro", "un bel quadro", "il vecchio pianoforte"],
        "A": ["nel parco", "prima di cena", "vicino al mare", "ogni lunedì", "al mercato",
              "dopo la pioggia", "presso il ponte", "domenica mattina", "molto piano", "a Bologna",
              "dietro il museo", "per favore"],
        "Q": ["Perché {S} prende {O}?", "Dov'è {O}?", "Pensi che {S} lo sappia?",
              "Hai visto {O}?", "Chi ha portato {O}?"],
        "G": ["Buongiorno!", "Ciao a tutti.", "Grazie mille.", "A presto, amico mio.",
              "Mamma mia!", "Va bene, forse domani."],
        "C": ["e", "ma", "perché", "mentre"],
        "N": ["Costa {n} euro.", "Abbiamo aspettato {n} minuti.", "Camera numero {n}, per favore."],
        "X": ["Che bella giornata!", "Meraviglioso!", "Guarda qui!"],
    },
    "pt": {
        "S": ["o velho", "o meu irmão", "um menino", "o padeiro", "a nossa mãe", "a piloto",
              "uma mulher feliz", "o jovem pintor", "o meu melhor amigo", "a música", "Paulo", "Maria"],
        "V": ["comprou", "pinta", "traz", "viu", "abre", "procura", "queria", "guarda",
              "encontrou", "esquece", "pega", "mostra"],
        "O": ["um barco azul", "o mapa", "pão fresco", "um cobertor quente",
              "o guarda-chuva vermelho", "duas maçãs", "o jornal", "um cesto de ameixas",
              "a lâmpada partida", "o meu livro", "uma bela pintura", "o velho piano"],
        "A": ["no parque", "antes do jantar", "perto do mar", "todas as segundas", "no mercado",
              "depois da chuva", "junto à ponte", "no domingo de manhã", "muito devagar",
              "em Lisboa", "atrás do museu", "com certeza"],
        "Q": ["Porque é que {S} leva {O}?", "Onde está {O}?", "Achas que {S} sabe?",
              "Viste {O}?", "Quem trouxe {O}?"],
        "G": ["Bom dia!", "Olá a todos.", "Muito obrigado.", "Até breve, meu amigo.",
              "Meu Deus!", "Bem, talvez amanhã."],
        "C": ["e", "mas", "porque", "enquanto"],
        "N": ["Custa {n} euros.", "Esperámos {n} minutos.", "Quarto número {n}, por favor."],
        "X": ["Que dia bonito!", "Maravilhoso!", "Olha para isto!"],
    },
    "nl": {
        "S": ["de oude man", "mijn broer", "een kleine jongen", "de bakker", "onze moeder",
              "de piloot", "een blije vrouw", "de jonge schilder", "mijn beste vriend",
              "de muzikant", "Peter", "Marieke"],
        "V": ["kocht", "schildert", "brengt", "zag", "opent", "zoekt", "wilde", "bewaart", "vond",
              "vergeet", "pakt", "toont"],
        "O": ["een blauwe boot", "de kaart", "vers brood", "een warme deken", "de rode paraplu",
              "twee appels", "de ochtendkrant", "een mand met pruimen", "de kapotte lamp",
              "mijn boek", "een mooi schilderij", "de oude piano"],
        "A": ["in het park", "voor het eten", "aan zee", "elke maandag", "op de markt",
              "na de regen", "bij de brug", "op zondagochtend", "heel langzaam", "in Amsterdam",
              "achter het museum", "zeker weten"],
        "Q": ["Waarom neemt {S} {O}?", "Waar is {O}?", "Denk je dat {S} het weet?",
              "Heb je {O} gezien?", "Wie bracht {O}?"],
        "G": ["Goedemorgen!", "Hallo allemaal.", "Dank je wel.", "Tot ziens, mijn vriend.",
              "Mijn hemel!", "Nou, misschien morgen."],
        "C": ["en", "maar", "want", "terwijl"],
        "N": ["Het kost {n} euro.", "We wachtten {n} minuten.", "Kamer nummer {n}, alstublieft."],
        "X": ["Wat een mooie dag!", "Prachtig!", "Kijk daar!"],
    },
    "pl": {
        "S": ["stary człowiek", "mój brat", "mały chłopiec", "piekarz", "nasza mama", "pilotka",
              "wesoła kobieta", "młody malarz", "mój najlepszy przyjaciel", "muzyk", "Paweł", "Maria"],
        "V": ["kupił", "maluje", "przynosi", "widział", "otwiera", "szuka", "chciał", "trzyma",
              "znalazł", "pamięta", "bierze", "pokazuje"],
        "O": ["niebieską łódkę", "mapę", "świeży chleb", "ciepły koc", "czerwony parasol",
              "dwa jabłka", "poranną gazetę", "koszyk śliwek", "zepsutą lampę", "moją książkę",
              "piękny obraz", "stare pianino"],
        "A": ["w parku", "przed obiadem", "nad morzem", "w każdy poniedziałek", "na rynku",
              "po deszczu", "przy moście", "w niedzielę rano", "bardzo powoli", "w Poznaniu",
              "za muzeum", "oczywiście"],
        "Q": ["Dlaczego {S} bierze {O}?", "Gdzie jest {O}?", "Myślisz, że {S} wie?",
              "Czy widziałeś {O}?", "Kto przyniósł {O}?"],
        "G": ["Dzień dobry!", "Cześć wszystkim.", "Bardzo dziękuję.", "Do zobaczenia, przyjacielu.",
              "Mój Boże!", "No dobrze, może jutro."],
        "C": ["i", "ale", "bo", "a"],
        "N": ["To kosztuje {n} złotych.", "Czekaliśmy {n} minut.", "Pokój numer {n}, proszę."],
        "X": ["Jaki piękny dzień!", "Wspaniale!", "Popatrz na to!"],
    },
    "sv": {
        "S": ["den gamle mannen", "min bror", "en liten pojke", "bagaren", "vår mamma", "piloten",
              "en glad kvinna", "den unge målaren", "min bästa vän", "musikern", "Per", "Maria"],
        "V": ["köpte", "målar", "bär", "såg", "öppnar", "söker", "ville", "behåller", "hittade",
              "glömmer", "tar", "visar"],
        "O": ["en blå båt", "kartan", "färskt bröd", "en varm filt", "det röda paraplyet",
              "två äpplen", "morgontidningen", "en korg med plommon", "den trasiga lampan",
              "min bok", "en vacker bild", "det gamla pianot"],
        "A": ["i parken", "före middagen", "vid havet", "varje måndag", "på torget",
              "efter regnet", "vid bron", "på söndag morgon", "mycket långsamt", "i Malmö",
              "bakom museet", "så klart"],
        "Q": ["Varför tar {S} {O}?", "Var är {O}?", "Tror du att {S} vet?", "Har du sett {O}?",
              "Vem kom med {O}?"],
        "G": ["God morgon!", "Hej allihop.", "Tack så mycket.", "Vi ses snart, min vän.",
              "Herregud!", "Nåja, kanske i morgon."],
        "C": ["och", "men", "för", "medan"],
        "N": ["Det kostar {n} kronor.", "Vi väntade {n} minuter.", "Rum nummer {n}, tack."],
        "X": ["Vilken vacker dag!", "Underbart!", "Titta där!"],
    },
    "cs": {
        "S": ["starý muž", "můj bratr", "malý chlapec", "pekař", "naše máma", "pilotka",
              "veselá žena", "mladý malíř", "můj nejlepší přítel", "muzikant", "Pavel", "Marie"],
        "V": ["koupil", "maluje", "přináší", "viděl", "otevírá", "hledá", "chtěl", "drží", "našel",
              "zapomíná", "bere", "ukazuje"],
        "O": ["modrou loďku", "mapu", "čerstvý chléb", "teplou deku", "červený deštník",
              "dvě jablka", "ranní noviny", "košík švestek", "rozbitou lampu", "mou knihu",
              "krásný obraz", "staré piano"],
        "A": ["v parku", "před večeří", "u moře", "každé pondělí", "na trhu", "po dešti",
              "u mostu", "v neděli ráno", "velmi pomalu", "v Brně", "za muzeem", "samozřejmě"],
        "Q": ["Proč {S} bere {O}?", "Kde je {O}?", "Myslíš, že {S} to ví?", "Viděl jsi {O}?",
              "Kdo přinesl {O}?"],
        "G": ["Dobré ráno!", "Ahoj všichni.", "Moc děkuji.", "Brzy na shledanou, příteli.",
              "Můj bože!", "No dobře, možná zítra."],
        "C": ["a", "ale", "protože", "zatímco"],
        "N": ["Stojí to {n} korun.", "Čekali jsme {n} minut.", "Pokoj číslo {n}, prosím."],
        "X": ["To je krásný den!", "Báječné!", "Podívej se!"],
    },
    "fi": {
        "S": ["vanha mies", "veljeni", "pieni poika", "leipuri", "äitimme", "lentäjä",
              "iloinen nainen", "nuori maalari", "paras ystäväni", "muusikko", "Pekka", "Maija"],
        "V": ["osti", "maalaa", "tuo", "näki", "avaa", "etsii", "halusi", "pitää", "löysi",
              "unohtaa", "ottaa", "näyttää"],
        "O": ["sinisen veneen", "kartan", "tuoretta leipää", "lämpimän peiton",
              "punaisen sateenvarjon", "kaksi omenaa", "aamulehden", "korillisen luumuja",
              "rikkinäisen lampun", "minun kirjani", "kauniin kuvan", "vanhan pianon"],
        "A": ["puistossa", "ennen päivällistä", "meren rannalla", "joka maanantai", "torilla",
              "sateen jälkeen", "sillan luona", "sunnuntaiaamuna", "hyvin hitaasti", "Tampereella",
              "museon takana", "tietenkin"],
        "Q": ["Miksi {S} ottaa {O}?", "Missä on {O}?", "Luuletko, että {S} tietää?",
              "Oletko nähnyt {O}?", "Kuka toi {O}?"],
        "G": ["Hyvää huomenta!", "Hei kaikki.", "Kiitos paljon.", "Nähdään pian, ystäväni.",
              "Voi hyvänen aika!", "No, ehkä huomenna."],
        "C": ["ja", "mutta", "koska", "kun"],
        "N": ["Se maksaa {n} euroa.", "Odotimme {n} minuuttia.", "Huone numero {n}, kiitos."],
        "X": ["Mikä kaunis päivä!", "Upeaa!", "Katso tuota!"],
    },
}

TEXT_LANGUAGES = tuple(_LEX)


def text_language(language: str) -> str:
    """espeak voice code or language tag → key of the phrase lists ("en-gb" → "en")."""
    key = language.lower().split("+")[0].split("-")[0].split("_")[0]
    if key not in _LEX:
        raise ValueError(f"no sentence lists for language {language!r}; have {TEXT_LANGUAGES}")
    return key


def _cap(s: str) -> str:
    i = 0
    while i < len(s) and not s[i].isalpha():  # keep leading "¿" / "¡"
        i += 1
    return s[:i] + s[i:i + 1].upper() + s[i + 1:] if i < len(s) else s


def _clause(lx: dict, rng: np.random.Generator) -> str:
    pick = lambda k: lx[k][int(rng.integers(len(lx[k])))]
    parts = [pick("S"), pick("V"), pick("O")]
    if rng.random() < 0.6:
        parts.append(pick("A"))
    return " ".join(parts)


def sentence(language: str, rng: np.random.Generator) -> str:
    """One sentence: mostly statements, sometimes questions, greetings, numbers, compounds."""
    lx = _LEX[text_language(language)]
    pick = lambda k: lx[k][int(rng.integers(len(lx[k])))]
    kind = rng.random()
    if kind < 0.45:
        return _cap(_clause(lx, rng)) + "."
    if kind < 0.60:
        return _cap(_clause(lx, rng)) + ", " + pick("C") + " " + _clause(lx, rng) + "."
    if kind < 0.75:
        return _cap(pick("Q").format(S=pick("S"), O=pick("O")))
    if kind < 0.85:
        return pick("G") + " " + _cap(_clause(lx, rng)) + "."
    if kind < 0.93:
        return pick("N").format(n=int(rng.integers(2, 100)))
    return pick("X") + " " + _cap(_clause(lx, rng)) + "."


def sentences(language: str, rng: np.random.Generator, n: int) -> list[str]:
    """``n`` sentences in ``language`` (espeak code or bare language), deterministic in rng."""
    return [sentence(language, rng) for _ in range(int(n))]
