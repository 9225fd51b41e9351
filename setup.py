"Build powderflow from the metadata and requirements in settings.ini."
from configparser import ConfigParser
from pathlib import Path
import setuptools

cfg = ConfigParser(delimiters=['='])
cfg.read(Path(__file__).parent/'settings.ini', encoding='utf-8')
cfg = cfg['DEFAULT']

setuptools.setup(
    name=cfg['lib_name'],
    version=cfg['version'],
    description=cfg['description'],
    long_description=(Path(__file__).parent/'README.md').read_text(encoding='utf-8'),
    long_description_content_type='text/markdown',
    keywords=cfg['keywords'].split(),
    license=cfg['license'],
    author=cfg['author'],
    author_email=cfg['author_email'],
    url=cfg['git_url'],
    packages=setuptools.find_packages(include=[cfg['lib_path'], cfg['lib_path'] + '.*']),
    include_package_data=True,
    # the trained weights that ship with the library (model folders: config.json + model.safetensors)
    package_data={cfg['lib_path']: ['weights/*/config.json', 'weights/*/model.safetensors', 'weights/*/domain.safetensors']},
    python_requires='>=' + cfg['min_python'],
    install_requires=cfg['requirements'].split(),
    extras_require={'dev': cfg['dev_requirements'].split()},
    entry_points={
        'console_scripts': cfg['console_scripts'].split(),
        'nbdev': [f"{cfg['lib_path']}={cfg['lib_path']}._modidx:d"],
    },
    classifiers=['Programming Language :: Python :: 3', 'Programming Language :: Python :: 3 :: Only',
                 'Topic :: Scientific/Engineering :: Image Recognition'],
    zip_safe=False,
)
